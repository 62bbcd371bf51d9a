"""`emnist serve --grpc-port` against NVIDIA's `tritonclient[grpc]` (KServe v2 / Open Inference
Protocol over gRPC, Triton's `inference.GRPCInferenceService`) and raw calls through `grpcio` with
the client's own generated messages. Answers must equal onnxruntime on the same file and the HTTP
endpoint's answers bit for bit; every bad call gets a gRPC error code with our message, never a
crash, and the server goes on serving.
"""

import re
import signal

import grpc
import numpy as np
import onnxruntime as ort
import pytest
import requests
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import start_server
from test_onnx import CLASSES, export, inputs, write_run

TOLERANCE = 1e-5
K = len(CLASSES)


@pytest.fixture(scope="module")
def served(emnist_bin, tmp_path_factory):
    """A CNN served over HTTP and gRPC; yields (HTTP URL, gRPC address, onnxruntime session)."""
    tmp = tmp_path_factory.mktemp("grpc")
    run = write_run(tmp / "cnn", "cnn", seed=21)
    onnx_path = tmp / "cnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0", "--grpc-port", "0"])
    assert proc.grpc_address, "`--grpc-port 0` must print the gRPC address"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    yield url, proc.grpc_address, session
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, "SIGTERM must stop the server (HTTP and gRPC) cleanly with exit 0"


def images(n=12):
    x = inputs()[:n]
    return np.rint(x[:, 0] * 255).astype(np.uint8)


def reference(session, u8):
    x = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 1, 28, 28)
    return session.run(["logits", "probabilities"], {"image": x})


def check(got, want):
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= TOLERANCE
    assert (got.argmax(1) == want.argmax(1)).all()


def test_tritonclient_grpc_health_metadata_and_config(served):
    _, addr, _ = served
    client = tgrpc.InferenceServerClient(url=addr)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("emnist") and client.is_model_ready("emnist", "1")
    assert not client.is_model_ready("no-such-model")
    server = client.get_server_metadata()
    assert server.name == "emnist" and "model_configuration" in server.extensions
    meta = client.get_model_metadata("emnist")
    assert meta.name == "emnist" and list(meta.versions) == ["1"] and meta.platform == "onnx"
    assert [(i.name, i.datatype, list(i.shape)) for i in meta.inputs] == [("image", "FP32", [-1, 1, 28, 28])]
    assert [(o.name, list(o.shape)) for o in meta.outputs] == [("logits", [-1, K]), ("probabilities", [-1, K])]
    # Triton's model configuration, as perf_analyzer reads it: implicit batch, dims without it.
    cfg = client.get_model_config("emnist").config
    assert cfg.name == "emnist" and cfg.platform == "onnxruntime_onnx" and cfg.max_batch_size == 128
    assert [(i.name, i.data_type, list(i.dims)) for i in cfg.input] == [("image", 11, [1, 28, 28])]  # 11: TYPE_FP32
    assert [(o.name, list(o.dims)) for o in cfg.output] == [("logits", [K]), ("probabilities", [K])]
    assert cfg.HasField("dynamic_batching")
    # The same document as HTTP's config endpoint.
    index = client.get_model_repository_index()
    assert [(m.name, m.version, m.state) for m in index.models] == [("emnist", "1", "READY")]
    client.close()


def test_tritonclient_grpc_infer_equals_onnxruntime_and_http(served):
    url, addr, session = served
    client = tgrpc.InferenceServerClient(url=addr)
    u8 = images()
    want_logits, want = reference(session, u8)
    f32 = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 1, 28, 28)
    inp = tgrpc.InferInput("image", list(f32.shape), "FP32")
    inp.set_data_from_numpy(f32)
    result = client.infer("emnist", [inp], outputs=[tgrpc.InferRequestedOutput("probabilities")], request_id="g1")
    got = result.as_numpy("probabilities")
    check(got, want)
    response = result.get_response()
    assert response.id == "g1" and response.model_name == "emnist" and response.model_version == "1"
    assert [o.name for o in response.outputs] == ["probabilities"]
    # UINT8 [N, 784], every output, version named.
    inp = tgrpc.InferInput("image", [len(u8), 784], "UINT8")
    inp.set_data_from_numpy(u8.reshape(-1, 784))
    result = client.infer("emnist", [inp], model_version="1")
    check(result.as_numpy("probabilities"), want)
    np.testing.assert_allclose(result.as_numpy("logits"), want_logits, rtol=1e-4, atol=1e-4)
    # HTTP answers the same request with the same bits.
    http = thttp.InferenceServerClient(url=url.removeprefix("http://"))
    hin = thttp.InferInput("image", list(f32.shape), "FP32")
    hin.set_data_from_numpy(f32, binary_data=True)
    over_http = http.infer("emnist", [hin], outputs=[thttp.InferRequestedOutput("probabilities")])
    assert np.array_equal(over_http.as_numpy("probabilities"), got)
    http.close()
    client.close()


def test_typed_contents_as_well_as_raw(served):
    """`contents.fp32_contents` / `uint_contents` instead of `raw_input_contents` (what clients other
    than tritonclient send)."""
    _, addr, session = served
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(addr))
    u8 = images(3)
    _, want = reference(session, u8)
    req = service_pb2.ModelInferRequest(model_name="emnist")
    t = req.inputs.add(name="image", datatype="UINT8", shape=[3, 28, 28])
    t.contents.uint_contents.extend(int(v) for v in u8.reshape(-1))
    req.outputs.add(name="probabilities")
    r = stub.ModelInfer(req)
    got = np.frombuffer(r.raw_output_contents[0], dtype="<f4").reshape(3, K)
    check(got, want)
    req = service_pb2.ModelInferRequest(model_name="emnist")
    t = req.inputs.add(name="image", datatype="FP32", shape=[3, 784])
    t.contents.fp32_contents.extend((u8.reshape(-1) / np.float32(255)).astype(np.float32).tolist())
    r = stub.ModelInfer(req)
    assert [o.name for o in r.outputs] == ["logits", "probabilities"]
    check(np.frombuffer(r.raw_output_contents[1], dtype="<f4").reshape(3, K), want)


def bad_calls():
    """(request, expected code, text in the message)."""
    def req(**kw):
        return service_pb2.ModelInferRequest(model_name=kw.pop("model", "emnist"), **kw)

    out = []
    r = req()
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "no input tensor"))
    r = req(model="nope")
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.NOT_FOUND, "not served here"))
    r = req(model_version="7")
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.NOT_FOUND, "version"))
    r = req()
    r.inputs.add(name="image", datatype="FP32", shape=[1, 5])
    r.raw_input_contents.append(bytes(20))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "[N, 784]"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[2, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "values"))
    r = req()
    r.inputs.add(name="image", datatype="INT64", shape=[1, 784])
    r.raw_input_contents.append(bytes(784 * 8))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "INT64"))
    r = req()
    r.inputs.add(name="image", datatype="FP32", shape=[1, 784])
    r.raw_input_contents.append(np.full(784, np.nan, np.float32).tobytes())
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "finite"))
    r = req()
    r.inputs.add(name="image", datatype="FP32", shape=[1, 784])
    r.raw_input_contents.append(np.full(784, 3.0, np.float32).tobytes())
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "outside [0, 1]"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784]).contents.uint_contents.extend([256] * 784)
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "not an integer 0..255"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784]).contents.uint_contents.extend([1] * 784)
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "both"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.extend([bytes(784), bytes(784)])
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "2 entries"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "neither"))
    r = req()
    r.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "unknown input"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.extend([bytes(784), bytes(784)])
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "2 input tensors"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[1, 784])
    r.raw_input_contents.append(bytes(784))
    r.outputs.add(name="softmax")
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "unknown output"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[-1, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "shape"))
    r = req()
    r.inputs.add(name="image", datatype="UINT8", shape=[2**62, 784])
    r.raw_input_contents.append(bytes(784))
    out.append((r, grpc.StatusCode.INVALID_ARGUMENT, "values"))
    return out


def test_bad_calls_get_grpc_codes_and_the_server_goes_on(served):
    url, addr, session = served
    channel = grpc.insecure_channel(addr)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    for request, code, text in bad_calls():
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(request, timeout=10)
        assert e.value.code() == code, (request, e.value.details())
        assert text in e.value.details(), (text, e.value.details())
    # Unknown models elsewhere too; RPCs we do not offer are UNIMPLEMENTED.
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelMetadata(service_pb2.ModelMetadataRequest(name="nope"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelConfig(service_pb2.ModelConfigRequest(name="emnist", version="9"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        stub.SystemSharedMemoryStatus(service_pb2.SystemSharedMemoryStatusRequest())
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # Bytes that are no protobuf message at all, and random ones.
    raw = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    rng = np.random.default_rng(5)
    for body in [b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f"] + [rng.bytes(int(rng.integers(1, 400))) for _ in range(200)]:
        try:
            raw(body, timeout=10)
        except grpc.RpcError as e:
            assert e.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE), e
    # Still serving, over both transports, and the metrics counted gRPC.
    u8 = images(2)
    _, want = reference(session, u8)
    client = tgrpc.InferenceServerClient(url=addr)
    inp = tgrpc.InferInput("image", [2, 784], "UINT8")
    inp.set_data_from_numpy(u8.reshape(-1, 784))
    check(client.infer("emnist", [inp]).as_numpy("probabilities"), want)
    client.close()
    text = requests.get(f"{url}/metrics").text
    assert re.search(r'emnist_requests_total\{protocol="grpc",status="200"\} [1-9]', text), text
    assert re.search(r'emnist_requests_total\{protocol="grpc",status="400"\} [1-9]', text), text
    assert requests.get(f"{url}/v2/health/ready").status_code == 200


def test_grpc_message_over_max_body_is_resource_exhausted(emnist_bin, tmp_path):
    run = write_run(tmp_path / "dnn", "dnn", seed=22)
    onnx_path = tmp_path / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0", "--grpc-port", "0",
                                          "--max-body", "100000"])
    try:
        client = tgrpc.InferenceServerClient(url=proc.grpc_address)
        big = np.zeros((4000, 784), np.uint8)
        inp = tgrpc.InferInput("image", list(big.shape), "UINT8")
        inp.set_data_from_numpy(big)
        with pytest.raises(InferenceServerException) as e:
            client.infer("emnist", [inp])
        assert "RESOURCE_EXHAUSTED" in str(e.value.status()), e.value
        assert "limit of 100000 bytes" in e.value.message() and "--max-body" in e.value.message(), e.value
        small = tgrpc.InferInput("image", [2, 784], "UINT8")
        small.set_data_from_numpy(np.zeros((2, 784), np.uint8))
        assert client.infer("emnist", [small]).as_numpy("probabilities").shape == (2, K)
        client.close()
        # The refusal is counted like any answer (as the 413 it stands for), not lost.
        text = requests.get(f"{url}/metrics").text
        assert re.search(r'emnist_requests_total\{protocol="grpc",status="413"\} 1$', text, re.M), text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_grpc_port_in_use_is_a_clear_error(emnist_bin, tmp_path):
    import socket
    import subprocess

    run = write_run(tmp_path / "linear", "linear", seed=23)
    onnx_path = tmp_path / "linear.onnx"
    export(emnist_bin, run, onnx_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run([str(emnist_bin), "serve", "--model", str(onnx_path), "--port", "0",
                               "--grpc-port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--grpc-port" in done.stderr, done.stderr
