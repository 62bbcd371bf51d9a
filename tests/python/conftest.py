"""Shared fixtures: the `emnist` binary under test."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def emnist_bin():
    """`$EMNIST_BIN`, else `target/debug/emnist` after a `cargo build` (a no-op when `cargo test`
    has just built it)."""
    if os.environ.get("EMNIST_BIN"):
        return Path(os.environ["EMNIST_BIN"])
    subprocess.run(["cargo", "build", "--quiet", "--bin", "emnist"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "emnist"
