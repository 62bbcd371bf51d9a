"""`emnist serve` against clients we did not write: the PyPI `graphpipe` 1.0.4 client, NVIDIA's
`tritonclient[http]` (KServe v2, JSON and binary tensors) and plain HTTP for TensorFlow Serving's
REST API. Answers are compared with onnxruntime running the same exported file.

The server is the real binary (`$EMNIST_BIN`), started on a free port and stopped with SIGTERM,
which must end it with exit status 0.
"""

import re
import signal

import numpy as np
import onnxruntime as ort
import pytest
import requests
import tritonclient.http as triton
from graphpipe import convert, remote
from tritonclient.utils import InferenceServerException

from conftest import start_server
from test_onnx import CLASSES, export, inputs, write_run

TOLERANCE = 1e-5
K = len(CLASSES)
# graphpipe 1.0.4 calls flatbuffers' EndVector the 2018 way, which the current runtime still takes.
pytestmark = pytest.mark.filterwarnings("ignore:numElems is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def served(emnist_bin, tmp_path_factory):
    """A CNN exported and served; yields (base URL, onnxruntime session on the same file)."""
    tmp = tmp_path_factory.mktemp("serve")
    run = write_run(tmp / "cnn", "cnn", seed=11)
    onnx_path = tmp / "cnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0"])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    yield url, session
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, "SIGTERM must stop the server cleanly with exit 0"


def images(n=12):
    """Real fixture images as uint8 [n, 28, 28]."""
    x = inputs()[:n]
    return np.rint(x[:, 0] * 255).astype(np.uint8)


def reference(session, u8):
    x = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 1, 28, 28)
    logits, probabilities = session.run(["logits", "probabilities"], {"image": x})
    return logits, probabilities


def check(got, want):
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= TOLERANCE
    assert (got.argmax(1) == want.argmax(1)).all()


def test_graphpipe_client(served):
    url, session = served
    u8 = images()
    want_logits, want = reference(session, u8)
    # No output named: every model output, in the model's order.
    logits, probabilities = remote.execute(url, u8)
    check(probabilities, want)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-4)
    # float32 [N, 1, 28, 28] and float64 [N, 784], one output by name.
    f32 = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 1, 28, 28)
    check(remote.execute(url, f32, output_name="probabilities"), want)
    check(remote.execute(url, f32.reshape(-1, 784).astype(np.float64), output_name="probabilities"), want)
    # Outputs come back in the order asked for.
    p, l = remote.execute_multi(url, [u8], None, ["probabilities", "logits"])
    check(p, want)
    assert l.shape == (len(u8), K)
    # Metadata.
    assert remote.get_input_names(url) == ["image"]
    assert remote.get_output_names(url) == ["logits", "probabilities"]
    assert remote.get_input_shapes(url) == [[None, 1, 28, 28]]
    assert remote.get_output_shapes(url) == [[None, K], [None, K]]
    meta = remote.metadata(url)
    assert meta.Name() == b"emnist" and b"emnist" in meta.Server()


def test_graphpipe_errors_are_400_with_the_message_in_errors(served):
    url, _ = served
    for bad, text in [
        (np.zeros((1, 5), np.float32), "[N, 784]"),
        (np.zeros((1, 784), np.int64), "int64"),
        (np.full((1, 784), np.nan, np.float32), "finite"),
    ]:
        with pytest.raises(requests.HTTPError) as e:
            remote.execute(url, bad)
        assert e.value.response.status_code == 400
        _, errors = convert.deserialize_infer_response(e.value.response.content)
        assert text in errors[0]["message"].decode(), errors
    with pytest.raises(requests.HTTPError):
        remote.execute(url, images(1), output_name="softmax")
    r = requests.post(url, data=b"\x00\x01garbage")
    assert r.status_code == 400


def test_tritonclient(served):
    url, session = served
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("emnist")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata("emnist")
    assert meta["inputs"][0] == {"name": "image", "datatype": "FP32", "shape": [-1, 1, 28, 28]}
    # Triton's model configuration: implicit batch up to --max-batch, dims without it.
    cfg = client.get_model_config("emnist")
    assert cfg["max_batch_size"] == 128 and cfg["input"][0]["dims"] == [1, 28, 28]
    assert [(o["name"], o["dims"]) for o in cfg["output"]] == [("logits", [K]), ("probabilities", [K])]
    assert [o["name"] for o in meta["outputs"]] == ["logits", "probabilities"]
    assert meta["class_names"] == CLASSES

    u8 = images()
    _, want = reference(session, u8)
    f32 = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 1, 28, 28)
    for binary_in in (True, False):
        for binary_out in (True, False):
            inp = triton.InferInput("image", list(f32.shape), "FP32")
            inp.set_data_from_numpy(f32, binary_data=binary_in)
            out = triton.InferRequestedOutput("probabilities", binary_data=binary_out)
            result = client.infer("emnist", [inp], outputs=[out], request_id="r1")
            check(result.as_numpy("probabilities"), want)
            assert result.get_response()["id"] == "r1"
    # UINT8 [N, 784], no outputs named: the client asks for every output in binary.
    inp = triton.InferInput("image", [len(u8), 784], "UINT8")
    inp.set_data_from_numpy(u8.reshape(-1, 784))
    result = client.infer("emnist", [inp])
    check(result.as_numpy("probabilities"), want)
    assert result.as_numpy("logits").shape == (len(u8), K)
    # A wrong shape: the client raises with the server's message.
    bad = triton.InferInput("image", [1, 5], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 5), np.float32))
    with pytest.raises(InferenceServerException, match=r"\[N, 784\]"):
        client.infer("emnist", [bad])
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("no-such-model")
    client.close()


def test_tensorflow_serving_rest(served):
    url, session = served
    r = requests.get(f"{url}/v1/models/emnist")
    assert r.status_code == 200 and r.json()["model_version_status"][0]["state"] == "AVAILABLE"
    sig = requests.get(f"{url}/v1/models/emnist/metadata").json()["metadata"]["signature_def"]["signature_def"]
    assert sig["serving_default"]["inputs"]["image"]["dtype"] == "DT_FLOAT"
    u8 = images()
    _, want = reference(session, u8)
    f = (u8.astype(np.float32) * np.float32(1.0 / 255.0))
    # Row format, [28, 28] instances.
    r = requests.post(f"{url}/v1/models/emnist:predict", json={"instances": f.tolist()})
    assert r.status_code == 200, r.text
    check(np.array([p["probabilities"] for p in r.json()["predictions"]], np.float32), want)
    # Columnar format, a named [N, 784] tensor.
    r = requests.post(f"{url}/v1/models/emnist/versions/1:predict", json={"inputs": {"image": f.reshape(-1, 784).tolist()}})
    assert r.status_code == 200, r.text
    check(np.array(r.json()["outputs"]["probabilities"], np.float32), want)
    # Errors: JSON {"error": ...} with a 4xx.
    for body, status, text in [
        ({"instances": [[0.5] * 10]}, 400, "[N, 784]"),
        ({"instances": [[2.0] * 784]}, 400, "outside [0, 1]"),
        ({"nothing": 1}, 400, "instances"),
    ]:
        r = requests.post(f"{url}/v1/models/emnist:predict", json=body)
        assert r.status_code == status and text in r.json()["error"], r.text
    r = requests.post(f"{url}/v1/models/emnist:predict", data=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = requests.post(f"{url}/v1/models/other:predict", json={"instances": [[0.0] * 784]})
    assert r.status_code == 404


def test_metrics_saw_every_protocol(served):
    url, _ = served
    text = requests.get(f"{url}/metrics").text
    for proto in ("graphpipe", "kserve", "tfserving"):
        assert re.search(rf'emnist_requests_total{{protocol="{proto}",status="200"}} [1-9]', text), text
    assert "emnist_batch_size_bucket" in text and "emnist_inflight_requests" in text


def test_oversized_bodies_reach_real_clients_as_a_json_413(emnist_bin, tmp_path):
    """A body over `--max-body` is refused from its Content-Length before it is read; tritonclient
    and requests, which send the whole body before reading, still receive the JSON 413 (not a
    BrokenPipeError), and the server goes on serving."""
    run = write_run(tmp_path / "dnn", "dnn", seed=12)
    onnx_path = tmp_path / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, small = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0", "--max-body", "100000"])
    try:
        client = triton.InferenceServerClient(url=small.removeprefix("http://"))
        big = np.zeros((4000, 784), np.uint8)  # 3.1 MB of binary tensor data
        inp = triton.InferInput("image", list(big.shape), "UINT8")
        inp.set_data_from_numpy(big, binary_data=True)
        with pytest.raises(InferenceServerException) as e:
            client.infer("emnist", [inp])
        assert "413" in str(e.value.status()) and "--max-body" in e.value.message(), e.value
        client.close()
        r = requests.post(f"{small}/v1/models/emnist:predict", data=b"[" + b"0," * 2_000_000 + b"0]",
                          headers={"content-type": "application/json"})
        assert r.status_code == 413 and "--max-body" in r.json()["error"], r.text
        u8 = images(2)
        r = requests.post(f"{small}/v1/models/emnist:predict", json={"instances": (u8.reshape(-1, 784) / 255.0).tolist()})
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
