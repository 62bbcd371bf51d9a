"""Triton's own load tool, `perf_analyzer` (`scripts/perf_analyzer`, installed by `make setup`),
against `emnist serve` over HTTP and gRPC: it reads the model metadata and Triton's model
configuration, then sends real fixture images at concurrency 1 and 2, batches of 1 and 4. Every
request must succeed (the tool stops at the first error, and the server's metrics must count no
failure). A short pass: a check that the tool works with us, not a benchmark.
"""

import json
import re
import signal
import subprocess

import requests

from conftest import ROOT, start_server
from test_onnx import export, inputs, write_run

PERF_ANALYZER = ROOT / "scripts" / "perf_analyzer"


def input_data(path):
    """perf_analyzer's --input-data JSON: real images, [1, 28, 28] each (the batch is implicit)."""
    x = inputs()[:16]
    data = [{"image": {"content": [float(v) for v in img.reshape(-1)], "shape": [1, 28, 28]}} for img in x]
    path.write_text(json.dumps({"data": data}))
    return path


def run_perf_analyzer(args):
    done = subprocess.run([str(PERF_ANALYZER), *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert not re.search(r"error|failed", out, re.IGNORECASE), out
    return out


def test_perf_analyzer_over_http_and_grpc(emnist_bin, tmp_path):
    assert PERF_ANALYZER.exists()
    assert (ROOT / ".venv/perf/bin/perf_analyzer").exists(), "perf_analyzer is missing: run `make setup`"
    run = write_run(tmp_path / "dnn", "dnn", seed=31)
    onnx_path = tmp_path / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0", "--grpc-port", "0"])
    data = input_data(tmp_path / "images.json")
    try:
        for protocol, address in [("http", url.removeprefix("http://")), ("grpc", proc.grpc_address)]:
            for batch in ("1", "4"):
                csv = tmp_path / f"{protocol}-{batch}.csv"
                out = run_perf_analyzer([
                    "-m", "emnist", "-u", address, "-i", protocol, "-b", batch, "--input-data", str(data),
                    "--concurrency-range", "1:2", "--measurement-interval", "300", "--max-trials", "10",
                    "--stability-percentage", "1000", "-f", str(csv),
                ])
                assert "Concurrency: 2" in out, out
                rows = csv.read_text().strip().splitlines()
                assert rows[0].startswith("Concurrency,Inferences/Second") and len(rows) == 3, rows
                assert all(float(r.split(",")[1]) > 0 for r in rows[1:]), rows
        metrics = requests.get(f"{url}/metrics").text
        for protocol in ("kserve", "grpc"):
            codes = re.findall(rf'emnist_requests_total{{protocol="{protocol}",status="(\d+)"}} (\d+)', metrics)
            assert codes and all(code == "200" for code, _ in codes), (protocol, codes)
            assert sum(int(n) for _, n in codes) > 20, (protocol, codes)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
