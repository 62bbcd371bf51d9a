"""`emnist serve --engine auto` (the default): with onnxruntime available it times tract and
onnxruntime on each model at load, keeps the faster, and says so in the log and in the model's
metadata; without the library it serves with tract and says why. Either way the answers are the
model's (onnxruntime on the same file, 1e-5).
"""

import os
import re
import shutil
import signal

import numpy as np
import onnxruntime as ort
import requests

from conftest import ROOT, server_log, start_server
from test_onnx import export, inputs, write_run


def check_answers(url, onnx_path):
    x = inputs()[:8]
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        ["probabilities"], {"image": x})[0]
    body = {"inputs": [{"name": "image", "shape": [8, 1, 28, 28], "datatype": "FP32", "data": x.reshape(-1).tolist()}],
            "outputs": [{"name": "probabilities"}]}
    r = requests.post(f"{url}/v2/models/emnist/infer", json=body)
    assert r.status_code == 200, r.text
    got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(8, -1)
    assert float(np.abs(got - want).max()) <= 1e-5


def test_auto_times_both_engines_and_keeps_the_faster(emnist_bin, tmp_path):
    run = write_run(tmp_path / "cnn", "cnn", seed=71)
    onnx_path = tmp_path / "cnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0"])  # the default engine
    try:
        engine = requests.get(f"{url}/v2/models/emnist").json()["parameters"]["engine"]
        check_answers(url, onnx_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    logs = server_log(proc)
    m = re.search(r'--engine auto: timed both engines .*tract_us_1=([\d.]+) onnxruntime_us_1=([\d.]+) '
                  r'tract_us_batch=([\d.]+) onnxruntime_us_batch=([\d.]+) onnxruntime_relative=([\d.]+) chosen="(\w+)"', logs)
    assert m, logs
    t1, o1, tb, ob, rel, chosen = float(m[1]), float(m[2]), float(m[3]), float(m[4]), float(m[5]), m[6]
    assert abs(rel - ((o1 / t1) * (ob / tb)) ** 0.5) < 1e-6
    assert chosen == ("onnxruntime" if rel < 1 else "tract") == engine


def test_auto_without_onnxruntime_serves_with_tract(emnist_bin, tmp_path):
    run = write_run(tmp_path / "dnn", "dnn", seed=72)
    onnx_path = tmp_path / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DYLIB_PATH", "LD_LIBRARY_PATH")}
    # A copy of the binary with no library beside it and no project around it: nothing to find
    # (the library is looked up beside the executable, never from the current folder).
    alone = tmp_path / "bin" / "emnist"
    alone.parent.mkdir()
    shutil.copy(ROOT / emnist_bin, alone)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0"], binary=alone, cwd=tmp_path,
                             env=env)
    try:
        assert requests.get(f"{url}/v2/models/emnist").json()["parameters"]["engine"] == "tract"
        check_answers(url, onnx_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    lines = server_log(proc).splitlines()
    assert any("no onnxruntime library" in l and "WARN" in l for l in lines), lines
