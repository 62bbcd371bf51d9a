"""Shared fixtures: the `emnist` binary under test."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
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


def wait_for_ready(proc, ready_file, timeout=120, log=lambda: ""):
    """The document `emnist serve --ready-file READY_FILE` writes once it listens (atomically:
    whole or not at all). Raises with the server's log (`log()`) if it exits first or after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(Path(ready_file).read_text())
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"`emnist serve` exited ({proc.returncode}) before it was ready:\n{log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"`emnist serve` wrote no ready file in {timeout} s:\n{log()}")
        time.sleep(0.02)


def start_server(emnist_bin, args, env_extra=None, binary=None, cwd=ROOT, env=None):
    """`emnist serve ARGS` (with `--port 0` among them) in the background, with `--ready-file`;
    returns the process and its URL, from the ready file (`proc.ready`; with `--grpc-port`,
    `proc.grpc_address` is the gRPC address). Its stderr keeps draining on a thread (into
    `proc.log_lines`, read with `server_log`) so the logs never block it. `binary` replaces `emnist_bin` (a copy), `env`
    the environment."""
    ready_dir = tempfile.mkdtemp(prefix="emnist-ready-")
    ready_file = Path(ready_dir) / "ready.json"
    env = {**(os.environ if env is None else env), **(env_extra or {})}
    proc = subprocess.Popen([str(binary or emnist_bin), "serve", *args, "--ready-file", str(ready_file)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=cwd, env=env)
    proc.log_lines = []

    def drain():
        for line in proc.stderr:
            proc.log_lines.append(line)

    proc.log_thread = threading.Thread(target=drain, daemon=True)
    proc.log_thread.start()
    try:
        proc.ready = wait_for_ready(proc, ready_file, log=lambda: "".join(proc.log_lines))
    except AssertionError:
        proc.kill()
        proc.wait(timeout=30)
        raise
    finally:
        # The folder goes with the process object (the server removes the file when it stops).
        weakref.finalize(proc, shutil.rmtree, ready_dir, ignore_errors=True)
    proc.ready_file = ready_file
    proc.grpc_address = proc.ready["grpc"]
    return proc, proc.ready["http"]


def server_log(proc):
    """What a server from `start_server` wrote to stderr so far: all of it once it has exited."""
    if proc.poll() is not None:
        proc.log_thread.join(timeout=30)
    return "".join(proc.log_lines)
