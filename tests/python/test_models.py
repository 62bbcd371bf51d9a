"""`emnist serve` on the models people bring, built by independent producers: `torch.onnx.export`
(fixed batch 1 and free batch, other input and output names, one softmax output or logits only,
opsets 9, 13 and 17) and `onnx.helper` for an opset-6 Gemm model laid out like the seed's
(`dnn_model_pt.onnx`: input `x` [1, 784], weights listed as graph inputs with initializers, one
output `softmax_probabilities`). Each is served by the real binary and queried with real clients
(graphpipe, tritonclient, TF-Serving REST over requests); every answer must equal onnxruntime's
within 1e-5. `emnist query` must validate each as it validates our own exports. Files that are
not 28×28 classifiers must be refused at start with one line saying what was found and needed.
"""

import json
import signal
import subprocess
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import requests
import torch
import tritonclient.http as triton
from graphpipe import remote
from onnx import TensorProto, helper, numpy_helper, version_converter

from conftest import ROOT, start_server
from test_onnx import FIXTURE_DATA, inputs

TOLERANCE = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:numElems is deprecated:DeprecationWarning")


class Dnn(torch.nn.Module):
    """The seed's DNN shape (two ELU hidden layers), small; `flat` says how the input is flattened."""

    def __init__(self, classes, flatten, head):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(784, 48), torch.nn.Linear(48, 32), torch.nn.Linear(32, classes)
        self.flatten, self.head = flatten, head

    def forward(self, x):
        # "traced": x.shape[0] is recorded as the constant 1 of the example, as in the seed's export.
        x = x.reshape(x.shape[0], 784) if self.flatten == "traced" else torch.flatten(x, 1)
        z = self.c(torch.nn.functional.elu(self.b(torch.nn.functional.elu(self.a(x)))))
        if self.head == "softmax":
            return torch.softmax(z, dim=1)
        if self.head == "both":
            return z, torch.softmax(z, dim=1)
        return z


def torch_model(path, seed, shape, opset, head, flatten, input_name, output_names, dynamic, classes=62):
    torch.manual_seed(seed)
    m = Dnn(classes, flatten, head).eval()
    axes = {input_name: {0: "batch"}, **{o: {0: "batch"} for o in output_names}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(*shape),), str(path), dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=output_names, dynamic_axes=axes)
    return path


def seed_like_opset6(path):
    """Opset 6, IR 3: Gemm with `broadcast`, weights as graph inputs with initializers."""
    rng = np.random.default_rng(6)
    w = [rng.normal(0, 0.08, s).astype(np.float32) for s in [(784, 64), (64,), (64, 64), (64,), (64, 62), (62,)]]
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    inits = [numpy_helper.from_array(a, n) for a, n in zip(w, names)]
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 784])] + [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for a, n in zip(w, names)
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["h1"], broadcast=1),
        helper.make_node("Elu", ["h1"], ["e1"]),
        helper.make_node("Gemm", ["e1", "W2", "b2"], ["h2"], broadcast=1),
        helper.make_node("Elu", ["h2"], ["e2"]),
        helper.make_node("Gemm", ["e2", "W3", "b3"], ["z"], broadcast=1),
        helper.make_node("Softmax", ["z"], ["softmax_probabilities"]),
    ]
    out = [helper.make_tensor_value_info("softmax_probabilities", TensorProto.FLOAT, [1, 62])]
    model = helper.make_model(helper.make_graph(nodes, "seed", graph_inputs, out, inits),
                              opset_imports=[helper.make_opsetid("", 6)], ir_version=3)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# name → (builder, serve flags, input name, input layout, what the file outputs)
CASES = {
    "seed-opset6": (lambda p: seed_like_opset6(p), [], "x", (784,), {"softmax_probabilities": "p"}),
    "torch-fixed1-opset9": (
        lambda p: torch_model(p, 1, (1, 784), 9, "softmax", "traced", "x", ["softmax_probabilities"], False),
        [], "x", (784,), {"softmax_probabilities": "p"}),
    "torch-free-logits-opset13": (
        lambda p: torch_model(p, 2, (1, 1, 28, 28), 13, "logits", "flatten", "pixels", ["scores"], True),
        [], "pixels", (1, 28, 28), {"scores": "l"}),
    "torch-two-outputs-opset17": (
        lambda p: torch_model(p, 3, (1, 28, 28), 17, "both", "flatten", "input", ["out_logits", "out_probs"], True),
        [], "input", (28, 28), {"out_logits": "l", "out_probs": "p"}),
    "torch-fixed1-opset9-onnxruntime": (
        lambda p: torch_model(p, 5, (1, 784), 9, "softmax", "traced", "x", ["softmax_probabilities"], False),
        ["--engine", "onnxruntime"], "x", (784,), {"softmax_probabilities": "p"}),
    "torch-fixed1-transposed-opset13": (
        lambda p: torch_model(p, 4, (1, 784), 13, "softmax", "flatten", "x", ["prob"], False),
        ["--transpose"], "x", (784,), {"prob": "p"}),
}


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


class Reference:
    """onnxruntime on the same file (an opset-6 file upgraded by onnx's version converter first:
    onnxruntime has no Gemm-6); logits and probabilities for upright uint8 images."""

    def __init__(self, path, input_name, layout, outputs, transpose):
        model = onnx.load(str(path))
        if model.opset_import[0].version < 7:
            model = version_converter.convert_version(model, 13)
        self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
        self.input_name, self.layout, self.outputs, self.transpose = input_name, layout, outputs, transpose

    def __call__(self, u8):
        x = u8.astype(np.float32) * np.float32(1.0 / 255.0)
        if self.transpose:
            x = x.transpose(0, 2, 1)
        x = x.reshape(-1, *self.layout)
        rows = [x[i:i + 1] for i in range(len(x))] if self.fixed else [x]
        names = list(self.outputs)
        got = [self.session.run(names, {self.input_name: r}) for r in rows]
        by_kind = {self.outputs[n]: np.concatenate([g[i] for g in got]) for i, n in enumerate(names)}
        logits = by_kind.get("l")
        probabilities = by_kind["p"] if "p" in by_kind else softmax(logits.astype(np.float64)).astype(np.float32)
        return logits, probabilities


def images(n=16):
    x = inputs()[:n]
    return np.rint(x[:, 0] * 255).astype(np.uint8)


def close(got, want):
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert float(np.abs(got - want).max()) <= TOLERANCE
    assert (got.argmax(1) == want.argmax(1)).all()


@pytest.fixture(scope="module", params=list(CASES))
def brought(request, emnist_bin, tmp_path_factory):
    name = request.param
    build, flags, input_name, layout, outputs = CASES[name]
    path = build(tmp_path_factory.mktemp(name) / f"{name}.onnx")
    proc, url = start_server(emnist_bin, ["--model", str(path), "--port", "0", *flags])
    yield name, path, url, Reference(path, input_name, layout, outputs, "--transpose" in flags), flags
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_tritonclient_reads_the_metadata_and_gets_onnxruntimes_answers(brought):
    name, path, url, ref, _ = brought
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_model_ready("emnist")
    meta = client.get_model_metadata("emnist")
    assert meta["inputs"][0]["name"] == ref.input_name
    assert meta["inputs"][0]["shape"] == [-1, *ref.layout]
    names = [o["name"] for o in meta["outputs"]]
    assert names[:2] == ["logits", "probabilities"] and set(ref.outputs) <= set(names)
    u8 = images()
    want_logits, want = ref(u8)
    x = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, *ref.layout)
    inp = triton.InferInput(ref.input_name, list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    asked = ["probabilities", *ref.outputs]
    result = client.infer("emnist", [inp], outputs=[triton.InferRequestedOutput(o) for o in asked])
    close(result.as_numpy("probabilities"), want)
    for own, kind in ref.outputs.items():
        close(result.as_numpy(own), want if kind == "p" else want_logits)
    if want_logits is not None:
        close(result.as_numpy("probabilities"), softmax(want_logits.astype(np.float64)).astype(np.float32))
    # uint8 under the contract's own input name, every output.
    inp = triton.InferInput("image", [len(u8), 784], "UINT8")
    inp.set_data_from_numpy(u8.reshape(-1, 784))
    result = client.infer("emnist", [inp])
    close(result.as_numpy("probabilities"), want)
    assert result.as_numpy("logits").shape == want.shape
    client.close()


def test_graphpipe_client_gets_onnxruntimes_answers(brought):
    _, _, url, ref, _ = brought
    u8 = images(9)
    _, want = ref(u8)
    assert remote.get_input_names(url) == [ref.input_name]
    close(remote.execute(url, u8, output_name="probabilities"), want)
    own_p = [n for n, k in ref.outputs.items() if k == "p"]
    if own_p:
        close(remote.execute(url, u8.reshape(-1, 784), output_name=own_p[0]), want)


def test_tensorflow_serving_rest_under_the_files_input_name(brought):
    _, _, url, ref, _ = brought
    u8 = images(7)
    _, want = ref(u8)
    f = (u8.astype(np.float32) * np.float32(1.0 / 255.0)).reshape(-1, 784)
    r = requests.post(f"{url}/v1/models/emnist:predict", json={"instances": [{ref.input_name: row} for row in f.tolist()]})
    assert r.status_code == 200, r.text
    close([p["probabilities"] for p in r.json()["predictions"]], want)
    sig = requests.get(f"{url}/v1/models/emnist/metadata").json()["metadata"]["signature_def"]["signature_def"]
    assert list(sig["serving_default"]["inputs"]) == [ref.input_name]


def test_emnist_query_validates_it(brought, emnist_bin):
    name, path, url, _, _ = brought
    r = subprocess.run([str(emnist_bin), "query", "--url", url, "--model", str(path), "--data", str(FIXTURE_DATA),
                        "--n", "40", "--batch", "8", "--json", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["passed"] and report["server_sha256_matches"] is True
    for p in report["protocols"]:
        assert p["agreement"] == 1.0 and p["failed_requests"] == 0, p


def refused(emnist_bin, model, tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    r = subprocess.run([str(emnist_bin), "serve", "--model", str(path), "--port", "0"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def small_graph(inputs, outputs, nodes, inits=()):
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                             opset_imports=[helper.make_opsetid("", 13)])


def test_files_that_are_not_28x28_classifiers_are_refused_with_what_was_found(emnist_bin, tmp_path):
    f = TensorProto.FLOAT
    two = small_graph([helper.make_tensor_value_info("a", f, ["N", 784]), helper.make_tensor_value_info("b", f, ["N", 784])],
                      [helper.make_tensor_value_info("y", f, ["N", 784])], [helper.make_node("Add", ["a", "b"], ["y"])])
    line = refused(emnist_bin, two, tmp_path, "two-inputs")
    assert "2 inputs" in line and "`a`" in line and "`b`" in line and "needed" in line

    w = numpy_helper.from_array(np.zeros((3 * 32 * 32, 10), np.float32), "w")
    cifar = small_graph([helper.make_tensor_value_info("img", f, ["N", 3, 32, 32])],
                        [helper.make_tensor_value_info("y", f, ["N", 10])],
                        [helper.make_node("Flatten", ["img"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["y"])], [w])
    line = refused(emnist_bin, cifar, tmp_path, "cifar")
    assert "[?, 3, 32, 32]" in line and "[N, 784]" in line

    w = numpy_helper.from_array(np.zeros((784, 10), np.float32), "w")
    argmax = small_graph([helper.make_tensor_value_info("x", f, ["N", 784])],
                         [helper.make_tensor_value_info("cls", TensorProto.INT64, ["N", 1])],
                         [helper.make_node("MatMul", ["x", "w"], ["z"]), helper.make_node("ArgMax", ["z"], ["cls"], axis=1)], [w])
    line = refused(emnist_bin, argmax, tmp_path, "argmax")
    assert "`cls` of type int64" in line and "float32" in line

    # onnxruntime has no Gemm-6: that engine refuses the seed's opset and says which engine runs it.
    seed_like_opset6(tmp_path / "seed6.onnx")
    r = subprocess.run([str(emnist_bin), "serve", "--model", str(tmp_path / "seed6.onnx"), "--port", "0",
                        "--engine", "onnxruntime"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode != 0 and "opset 6" in r.stderr and "tract" in r.stderr, r.stderr

    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01 not a model")
    r = subprocess.run([str(emnist_bin), "serve", "--model", str(tmp_path / "junk.onnx"), "--port", "0"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode != 0 and "not an ONNX file" in r.stderr
