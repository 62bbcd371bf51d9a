"""Shared fixtures: the `emnist` binary under test."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def emnist_bin():
    """`$EMNIST_BIN`, else `target/debug/emnist` after a `cargo build` of both binaries (`emnist`
    and the trainer `emnist train` runs; a no-op when `cargo test --workspace` has just built them)."""
    if os.environ.get("EMNIST_BIN"):
        return Path(os.environ["EMNIST_BIN"])
    subprocess.run(["cargo", "build", "--quiet", "--workspace", "--bins"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "emnist"


def start_server(emnist_bin, args, env_extra=None):
    """`emnist serve ARGS` (with `--port 0` among them) in the background; returns the process and
    the URL it printed (with `--grpc-port`, the gRPC address it printed is `proc.grpc_address`).
    Its stderr keeps draining on a thread (into `proc.log_lines`) so the logs never block it."""
    import re
    import threading

    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.Popen([str(emnist_bin), "serve", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, cwd=ROOT, env=env)
    url = None
    proc.grpc_address = None
    proc.log_lines = []
    for line in proc.stderr:
        proc.log_lines.append(line)
        g = re.search(r"KServe v2 over gRPC on (\S+)", line)
        if g:
            proc.grpc_address = g.group(1)
        m = re.search(r"listening on (https?://\S+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.wait(timeout=30)
        raise AssertionError(f"`emnist serve {' '.join(map(str, args))}` did not start (exit {proc.returncode})")

    def drain():
        for rest in proc.stderr:
            proc.log_lines.append(rest)

    threading.Thread(target=drain, daemon=True).start()
    return proc, url
