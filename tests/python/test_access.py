"""Access control of `emnist serve` with real clients: bearer tokens (`--auth-token-file`) over
HTTP (`requests`, `tritonclient.http`) and gRPC (`tritonclient.grpc`), health exempt, tokens never
logged; CORS (`--cors-origin`) preflights and headers as a browser sees them.
"""

import signal
import subprocess

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from conftest import ROOT, server_log, start_server
from test_onnx import export, write_run

TOKEN = "s3cret-token-0123456789abcdef"
OTHER = "another-token-abcdef0123456789"


@pytest.fixture(scope="module")
def model(emnist_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    run = write_run(tmp / "dnn", "dnn", seed=41)
    onnx_path = tmp / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    return onnx_path


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def one_image():
    return {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}


def test_bearer_tokens_over_http_and_grpc(emnist_bin, model, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# who may call\n{TOKEN}\n\n{OTHER}\n")
    proc, url = start_server(emnist_bin, ["--model", str(model), "--port", "0", "--grpc-port", "0",
                                          "--auth-token-file", str(tokens)], env_extra={"EMNIST_LOG": "debug"})
    try:
        infer = f"{url}/v2/models/emnist/infer"
        r = requests.post(infer, json=one_image())
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="emnist"', r.headers
        assert "Authorization: Bearer" in r.json()["error"]
        r = requests.post(infer, json=one_image(), headers={"Authorization": "Bearer wrong-token-0123456789"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        for token in (TOKEN, OTHER):
            r = requests.post(infer, json=one_image(), headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
        # Every route but health needs the token; health answers probes without one.
        for path in ("/v2", "/metrics", "/v2/models/emnist", "/v1/models/emnist", "/endpoints"):
            assert requests.get(url + path).status_code == 401, path
            assert requests.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
        for path in ("/v2/health/live", "/v2/health/ready", "/openapi.json", "/"):
            assert requests.get(url + path).status_code == 200, path
        assert requests.post(url + "/", data=b"graphpipe").status_code == 401, "GraphPipe needs the token"
        # tritonclient over HTTP and gRPC, with the header and without.
        x = np.zeros((2, 784), np.uint8)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        h = thttp.InferenceServerClient(url=url.removeprefix("http://"))
        hin = thttp.InferInput("image", [2, 784], "UINT8")
        hin.set_data_from_numpy(x)
        # (a fresh dict per call: tritonclient.http adds its own headers to the one it is given)
        assert h.infer("emnist", [hin], headers=dict(auth)).as_numpy("probabilities").shape[0] == 2
        with pytest.raises(InferenceServerException, match="401|token"):
            h.infer("emnist", [hin])
        assert h.is_server_live()
        h.close()
        auth = {"authorization": f"Bearer {TOKEN}"}  # gRPC metadata keys are lowercase
        g = tgrpc.InferenceServerClient(url=proc.grpc_address)
        gin = tgrpc.InferInput("image", [2, 784], "UINT8")
        gin.set_data_from_numpy(x)
        assert g.infer("emnist", [gin], headers=auth).as_numpy("probabilities").shape[0] == 2
        assert g.get_model_config("emnist", headers=auth).config.max_batch_size == 128
        for call in (lambda: g.infer("emnist", [gin]), lambda: g.get_model_metadata("emnist"),
                     lambda: g.infer("emnist", [gin], headers={"authorization": "Bearer wrong-token-0123456789"})):
            with pytest.raises(InferenceServerException) as e:
                call()
            assert "UNAUTHENTICATED" in str(e.value.status()), e.value
        assert g.is_server_live() and g.is_server_ready() and g.is_model_ready("emnist")
        g.close()
    finally:
        stop(proc)
    logs = server_log(proc)
    assert "request" in logs, "debug logging was on"
    assert TOKEN not in logs and OTHER not in logs and "wrong-token" not in logs, "tokens are never logged"


def test_bad_token_files_stop_the_server_with_a_clear_error(emnist_bin, model, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("# nothing here\n")
    for path, text in [(tmp_path / "missing", "cannot read the token file"), (empty, "holds no token")]:
        done = subprocess.run([str(emnist_bin), "serve", "--model", str(model), "--port", "0",
                               "--auth-token-file", str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode != 0 and text in done.stderr, done.stderr


def test_cors_preflight_and_headers(emnist_bin, model):
    page = "http://127.0.0.1:8765"
    proc, url = start_server(emnist_bin, ["--model", str(model), "--port", "0", "--cors-origin", page,
                                          "--cors-origin", "https://app.example.com"])
    try:
        infer = f"{url}/v2/models/emnist/infer"
        pre = requests.options(infer, headers={"Origin": page, "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type, authorization"})
        assert pre.status_code == 200, pre.text
        assert pre.headers["access-control-allow-origin"] == page
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        r = requests.post(infer, json=one_image(), headers={"Origin": page})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == page
        assert "origin" in r.headers.get("vary", "").lower()
        # Errors carry the headers too, so the page can read them.
        r = requests.post(infer, json={"inputs": []}, headers={"Origin": page})
        assert r.status_code == 400 and r.headers["access-control-allow-origin"] == page
        # Another origin gets no grant: the browser keeps the answer from its page.
        r = requests.post(infer, json=one_image(), headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = requests.options(infer, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
    finally:
        stop(proc)
    proc, url = start_server(emnist_bin, ["--model", str(model), "--port", "0", "--cors-origin", "*"])
    try:
        r = requests.get(f"{url}/v2", headers={"Origin": "http://anywhere.example"})
        assert r.headers["access-control-allow-origin"] == "*"
    finally:
        stop(proc)
    done = subprocess.run([str(emnist_bin), "serve", "--model", str(model), "--port", "0", "--cors-origin",
                           "localhost:8080"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "is not an origin" in done.stderr, done.stderr
