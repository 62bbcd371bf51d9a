"""Live reload under load: `emnist serve --models DIR` swaps versions five times while wrk (a real
load generator, Debian's `wrk`) keeps 32 connections busy. No request may fail, every answer a
checking client sees must come from a version that was being served (the versions are told apart
by their outputs: version k always puts class k first), versions must only move forward, and the
server's memory must come back to its level once the old versions are gone. A file whose graph
would allocate 16 GiB is refused with one line (`--model`) or fails alone in a repository (under a
memory limit), never blocking the versions after it.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import onnx
import requests
import tritonclient.http as triton
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, start_server, wait_for_ready

LOAD_SECONDS = 12


def version_file(path, k):
    """A 10-class linear model over [N, 784] whose bias makes class k win for any image."""
    rng = np.random.default_rng(k)
    w = numpy_helper.from_array(rng.normal(0, 0.001, (784, 10)).astype(np.float32), "w")
    b = numpy_helper.from_array((np.eye(10, dtype=np.float32)[k] * 8.0), "b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        f"v{k}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def metric(url, name):
    """The value of the sample `name` (labels included, as the server writes them) in /metrics; 0 if absent."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return next((float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.rsplit(" ", 1)[0] == name), 0)


def test_five_swaps_under_32_busy_connections_lose_no_request(emnist_bin, tmp_path):
    assert shutil.which("wrk"), "wrk is missing: `make setup` installs Debian's wrk"
    repo = tmp_path / "repo"
    version_file(repo / "emnist" / "1" / "model.onnx", 1)
    proc, url = start_server(emnist_bin, ["--models", str(repo), "--port", "0", "--poll-secs", "0"])
    body = '{"inputs":[{"name":"x","shape":[1,784],"datatype":"UINT8","data":[' + ",".join(["128"] * 784) + "]}]}"
    script = tmp_path / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = '{body}'\n")
    infer = f"{url}/v2/models/emnist/infer"

    seen, errors, stop = [], [], threading.Event()

    def check():
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.post(infer, data=body, headers={"Content-Type": "application/json"}, timeout=10)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                out = {o["name"]: o["data"] for o in r.json()["outputs"]}
                seen.append((int(np.argmax(out["probabilities"])), r.json()["model_version"]))
            except Exception as e:  # noqa: BLE001 - every failure is a finding here
                errors.append(repr(e))

    def newest():
        return requests.get(f"{url}/v2/models/emnist", timeout=10).json()["parameters"]["version"]

    try:
        # Warm up, then measure the server at its working level under load.
        wrk = subprocess.Popen(["wrk", "-t2", "-c32", f"-d{LOAD_SECONDS}s", "--latency", "-s", str(script), infer],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        checker = threading.Thread(target=check)
        checker.start()
        # The working level: wrk's 32 connections open (beside this one) and a thousand answers given.
        deadline = time.time() + LOAD_SECONDS / 2
        while not (metric(url, "emnist_open_connections") >= 33
                   and metric(url, 'emnist_requests_total{protocol="kserve",status="200"}') >= 1000):
            assert time.time() < deadline, (errors[:5], requests.get(f"{url}/metrics", timeout=10).text)
            time.sleep(0.05)
        before = rss_kib(proc.pid)
        for k in range(2, 7):
            version_file(repo / "emnist" / str(k) / "model.onnx", k)
            proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 20
            while newest() != str(k):
                assert time.time() < deadline, f"version {k} was not swapped in"
                time.sleep(0.05)
            shutil.rmtree(repo / "emnist" / str(k - 1))
            proc.send_signal(signal.SIGHUP)
            while requests.get(f"{url}/v2/models/emnist", timeout=10).json()["versions"] != [str(k)]:
                assert time.time() < deadline, f"version {k - 1} was not unloaded"
                time.sleep(0.05)
            while not (seen and seen[-1][1] == str(k)):
                assert time.time() < deadline, f"the checking client got no answer from version {k}: {errors[:5]}"
                time.sleep(0.05)
        out, _ = wrk.communicate(timeout=LOAD_SECONDS + 30)
        stop.set()
        checker.join()
        after = rss_kib(proc.pid)
        # Triton's repository index, through tritonclient.
        client = triton.InferenceServerClient(url=url.removeprefix("http://"))
        index = client.get_model_repository_index()
        client.close()
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)

    assert code == 0
    assert index == [{"name": "emnist", "version": "6", "state": "READY", "reason": ""}], index
    assert "requests in" in out, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert not errors, errors[:5]
    assert len(seen) > 50
    # Every answer is version k's own (class k first), versions only move forward, and all six served.
    assert all(cls == int(v) for cls, v in seen), [s for s in seen if s[0] != int(s[1])][:5]
    versions = [int(v) for _, v in seen]
    assert versions == sorted(versions)
    assert {1, 6} <= set(versions), sorted(set(versions))
    # Five loads and unloads leave memory where it was (30 MiB of slack for allocator noise).
    assert after - before < 30 * 1024, f"RSS {before} KiB before the swaps, {after} KiB after"
    print(out)
    print(f"checked answers: {len(seen)}, RSS before {before} KiB, after {after} KiB")


def bomb_file(path):
    """A valid-looking classifier whose graph builds a 16 GiB constant when folded: a
    `ConstantOfShape([65536, 65536])` summed by `ReduceSum` and added to the logits."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.01, (784, 10)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(10, np.float32), "b")
    shape = numpy_helper.from_array(np.array([65536, 65536], np.int64), "shape")
    nodes = [
        helper.make_node("Gemm", ["image", "w", "b"], ["raw"]),
        helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("ReduceSum", ["ones"], ["total"], keepdims=0),
        helper.make_node("Add", ["raw", "total"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "bomb", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 784])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [w, b, shape])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


# The address space the tester probed under: a 16 GiB allocation fails instead of swapping.
ULIMIT_KIB = 6_000_000


def test_serve_refuses_an_allocation_bomb_with_one_line(emnist_bin, tmp_path):
    bomb_file(tmp_path / "bomb.onnx")
    r = subprocess.run(["bash", "-c", f'ulimit -v {ULIMIT_KIB}; exec "$0" serve --model "$1" --port 0 --engine tract',
                        str(emnist_bin), str(tmp_path / "bomb.onnx")],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "RUST_BACKTRACE": "1"})
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "over the budget" in lines[0] and "bomb.onnx" in lines[0], r.stderr
    assert "panicked" not in r.stderr and "backtrace" not in r.stderr.lower()


def test_an_allocation_bomb_in_a_repository_fails_alone(emnist_bin, tmp_path):
    """Under a memory limit, the bomb as version 2 becomes END with its reason and is counted once
    (not retried every poll); versions 3 to 5 added afterwards load and serve."""
    repo = tmp_path / "repo"
    version_file(repo / "emnist" / "1" / "model.onnx", 1)
    bomb_file(repo / "emnist" / "2" / "model.onnx")
    cmd = ["bash", "-c", f'ulimit -v {ULIMIT_KIB}; exec "$0" serve "$@"', str(emnist_bin)]
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    ready_file = tmp_path / "ready.json"
    proc = subprocess.Popen([*cmd, "--models", str(repo), "--port", "0", "--poll-secs", "0.2", "--engine", "tract",
                             "--ready-file", str(ready_file)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    lines = []
    drain = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    drain.start()
    url = wait_for_ready(proc, ready_file, log=lambda: "".join(lines))["http"]

    def status():
        s = requests.get(f"{url}/v1/models/emnist", timeout=10).json()["model_version_status"]
        return {v["version"]: (v["state"], v["status"]["error_message"]) for v in s}

    def failures():
        text = requests.get(f"{url}/metrics", timeout=10).text
        return int(re.search(r"^emnist_model_load_failures_total (\d+)", text, re.M).group(1))

    try:
        s = status()
        assert s["1"][0] == "AVAILABLE" and s["2"][0] == "END", s
        assert "over the budget" in s["2"][1], s
        # Each version that appears is a completed poll of the whole repository, the bomb in it:
        # three polls later it still failed once (it is not retried).
        for k in (3, 4, 5):
            version_file(repo / "emnist" / str(k) / "model.onnx", k)
            deadline = time.time() + 30
            while status().get(str(k), ("",))[0] != "AVAILABLE":
                assert time.time() < deadline, status()
                time.sleep(0.1)
        assert failures() == 1
        r = requests.post(f"{url}/v2/models/emnist/infer", timeout=10,
                          json={"inputs": [{"name": "x", "shape": [1, 784], "datatype": "UINT8", "data": [128] * 784}]})
        assert r.status_code == 200 and r.json()["model_version"] == "5", r.text
        out = {o["name"]: o["data"] for o in r.json()["outputs"]}
        assert int(np.argmax(out["probabilities"])) == 5
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    drain.join(timeout=30)
    log = "".join(lines)
    assert "panicked" not in log, log
    assert log.count("cannot serve this file") == 1, log
