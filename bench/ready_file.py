"""Start `emnist serve` and learn where it listens from its `--ready-file` (not from its log).

    from ready_file import start_serve
    proc, ready = start_serve(["target/release/emnist", "serve", "--port", "0", "--model", MODEL])
    url = ready["http"]          # also "grpc" (or None), "pid", "models"

The server's stderr goes to a file beside the ready file (shown if the server exits before it is
ready); both go when this Python process exits.
"""

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_serve(cmd, timeout=60, **popen):
    """`cmd` (an `emnist serve` command line) with `--ready-file` in a private folder, started in
    the background; returns the process and the ready file's document. Exits with the server's
    log if it stops first or writes no ready file within `timeout` seconds."""
    folder = Path(tempfile.mkdtemp(prefix="emnist-bench-"))
    atexit.register(shutil.rmtree, folder, True)
    ready, log = folder / "ready.json", folder / "serve.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([*map(str, cmd), "--ready-file", str(ready)], stderr=err, **popen)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            sys.exit(f"error: `{' '.join(map(str, cmd))}` was not ready (exit {proc.returncode}):\n{log.read_text()}")
        time.sleep(0.02)
    return proc, json.loads(ready.read_text())
