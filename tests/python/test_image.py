"""The serving image (`make image`, deploy/image/build.sh) built and run here with podman and runc:
read-only root filesystem, a non-root user, host networking (`--port 0`: the server's `--ready-file`,
in a mounted folder, says which ports it got). Its answers over HTTP and gRPC (tritonclient) equal
the bare binary's on the same CNN within 1e-5, `--engine auto` finds the onnxruntime library beside
the binary and serves the CNN with it, `emnist query` passes against it, its health check (`emnist
health`, no curl inside) passes, a repository mounted read-only reloads a version added on the
host, and SIGTERM (`podman stop`) exits 0 within the grace period and removes the ready file. The image carries the binary this test run
built (EMNIST_BIN); `make image` carries the release build.
"""

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from conftest import ROOT, start_server
from test_onnx import FIXTURE_DATA, export, inputs, write_run

PODMAN = ["podman", "--runtime", "runc"]
# Rootful podman's default limits cannot be set here (README, "The serving image").
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TAG = "emnist-serve-test"


def podman(*args, check=True, timeout=120):
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def image(emnist_bin, tmp_path_factory):
    assert shutil.which("podman") and shutil.which("runc"), "podman and runc are missing: run `make setup`"
    tmp = tmp_path_factory.mktemp("image")
    run = write_run(tmp / "cnn", "cnn", seed=61)
    model = tmp / "cnn.onnx"
    export(emnist_bin, run, model)
    env = {"MODEL": str(model), "EMNIST_BIN": str(ROOT / emnist_bin), "TAG": TAG, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    done = subprocess.run(["bash", "deploy/image/build.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"image {TAG}:\d+\.\d+\.\d+ \(and :latest\): \d+ MB", done.stdout), done.stdout
    image_id = podman("image", "inspect", f"{TAG}:latest", "--format", "{{.Id}}").stdout.strip()
    yield {"model": model, "tmp": tmp}
    # Each run builds a fresh image under the same tags: removing it leaves no untagged layers
    # behind to fill the disk run after run.
    podman("rmi", "-f", image_id, check=False)


class Container:
    """`podman run -d` of the image with host networking; learns its ports from its ready file,
    which comes out through a folder mounted at /run/emnist (the root filesystem is read-only)."""

    def __init__(self, args, volumes=()):
        self.name = f"emnist-test-{uuid.uuid4().hex[:8]}"
        # Open to the image's user (uid 10001), who writes the ready file there.
        self.run_dir = Path(tempfile.mkdtemp(prefix="emnist-image-run-"))
        self.run_dir.chmod(0o777)
        self.ready_file = self.run_dir / "ready.json"
        vols = [a for v in (*volumes, f"{self.run_dir}:/run/emnist") for a in ("-v", v)]
        podman("run", "-d", "--name", self.name, "--read-only", *LIMITS, "--network", "host", *vols,
               f"{TAG}:latest", *args, "--ready-file", "/run/emnist/ready.json")
        deadline = time.monotonic() + 60
        while not self.ready_file.exists():
            state = podman("inspect", self.name, "--format", "{{.State.Status}}").stdout.strip()
            assert state == "running", f"the container stopped ({state}):\n{self.logs()}"
            assert time.monotonic() < deadline, f"no ready file after 60 s:\n{self.logs()}"
            time.sleep(0.2)
        self.ready = json.loads(self.ready_file.read_text())
        self.url, self.grpc = self.ready["http"], self.ready["grpc"]

    def logs(self):
        done = podman("logs", self.name)
        return done.stdout + done.stderr

    def remove(self):
        podman("rm", "-f", self.name, check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def serve_args(port_args=("--port", "0", "--grpc-port", "0")):
    return ["--model", "/models/model.onnx", "--host", "127.0.0.1", *port_args]


def probabilities(url, grpc_address, x):
    h = thttp.InferenceServerClient(url=url.removeprefix("http://"))
    hin = thttp.InferInput("image", list(x.shape), "UINT8")
    hin.set_data_from_numpy(x)
    over_http = h.infer("emnist", [hin]).as_numpy("probabilities")
    h.close()
    g = tgrpc.InferenceServerClient(url=grpc_address)
    gin = tgrpc.InferInput("image", list(x.shape), "UINT8")
    gin.set_data_from_numpy(x)
    over_grpc = g.infer("emnist", [gin]).as_numpy("probabilities")
    g.close()
    return over_http, over_grpc


def test_the_image_serves_like_the_bare_binary(emnist_bin, image):
    x = (inputs()[:32].reshape(32, 784) * 255).round().astype(np.uint8)
    proc, bare_url = start_server(emnist_bin, ["--model", str(image["model"]), "--port", "0", "--grpc-port", "0",
                                               "--engine", "onnxruntime"])
    c = Container(serve_args())
    try:
        log = c.logs()
        assert "(beside the executable)" in log and "/usr/local/bin/libonnxruntime.so" in log, log
        meta = requests.get(f"{c.url}/v2/models/emnist").json()
        assert meta["parameters"]["engine"] == "onnxruntime", (meta["parameters"], log)
        assert "--engine auto: timed both engines" in log, log
        want_http, want_grpc = probabilities(bare_url, proc.grpc_address, x)
        got_http, got_grpc = probabilities(c.url, c.grpc, x)
        assert np.abs(got_http - want_http).max() < 1e-5
        assert np.abs(got_grpc - want_grpc).max() < 1e-5
        # The server process runs as the image's user, not root.
        pid = podman("inspect", c.name, "--format", "{{.State.Pid}}").stdout.strip()
        uid = re.search(r"^Uid:\s+(\d+)", open(f"/proc/{pid}/status").read(), re.M).group(1)
        assert uid == "10001", uid
        # Its own health check (no curl in the image): the image's HEALTHCHECK runs `emnist health`
        # on port 9000; here the port is the one the container got.
        check = podman("image", "inspect", f"{TAG}:latest", "--format", "{{json .Config.Healthcheck.Test}}").stdout
        assert '"/usr/local/bin/emnist","health","--live"' in check.replace(", ", ","), check
        health = podman("exec", c.name, "/usr/local/bin/emnist", "health", "--url", c.url, check=False)
        assert health.returncode == 0 and "healthy" in health.stdout, health.stdout + health.stderr
        q = subprocess.run([str(emnist_bin), "query", "--url", c.url, "--model", str(image["model"]),
                            "--data", str(FIXTURE_DATA), "--n", "64", "--no-cache"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert q.returncode == 0, q.stderr
        # SIGTERM, as `docker stop` and Kubernetes send it: exit 0 within the grace period.
        t0 = time.monotonic()
        podman("stop", "-t", "30", c.name)
        assert time.monotonic() - t0 < 25
        assert podman("inspect", c.name, "--format", "{{.State.ExitCode}}").stdout.strip() == "0"
        assert "stopped: every request in flight was answered" in c.logs()
        assert not c.ready_file.exists(), "the ready file is removed when the server stops"
    finally:
        c.remove()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_repository_mounted_read_only_reloads_through_the_mount(image, tmp_path):
    repo = tmp_path / "repo"
    (repo / "emnist" / "1").mkdir(parents=True)
    shutil.copy(image["model"], repo / "emnist" / "1" / "model.onnx")
    c = Container(["--models", "/models", "--poll-secs", "1", "--host", "127.0.0.1", "--port", "0"],
                  volumes=[f"{repo}:/models:ro"])
    try:
        assert requests.get(f"{c.url}/v2/models/emnist").json()["versions"] == ["1"]
        (repo / "emnist" / "2").mkdir()
        shutil.copy(image["model"], repo / "emnist" / "2" / ".model.onnx.tmp")
        (repo / "emnist" / "2" / ".model.onnx.tmp").rename(repo / "emnist" / "2" / "model.onnx")
        deadline = time.monotonic() + 60
        while requests.get(f"{c.url}/v2/models/emnist").json()["versions"] != ["1", "2"]:
            assert time.monotonic() < deadline, c.logs()
            time.sleep(0.3)
        assert requests.get(f"{c.url}/v2/models/emnist/versions/2/ready").status_code == 200
    finally:
        c.remove()
