"""`emnist export --onnx` checked by independent consumers: the official `onnx` checker and
`onnxruntime`, against the same network rebuilt in PyTorch from the exported safetensors weights.

The run directories are written here, in Python (numpy weights, safetensors' own writer, a
model.json in the documented layout), so nothing of the Rust side is trusted but the exporter.
The binary is `$EMNIST_BIN`, else `target/debug/emnist` after a `cargo build` (a no-op when
`cargo test` has just built it). Run: `.venv/bin/python -m pytest tests/python`.
"""

import gzip
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "mnist-style"
TOLERANCE = 1e-5
CLASSES = [str(d) for d in range(10)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [
    chr(c) for c in range(ord("a"), ord("z") + 1)
]

ARCHITECTURES = {
    "linear": {"kind": "linear"},
    "dnn": {"kind": "dnn", "hidden": [512, 256]},
    "cnn": {"kind": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.25},
}


def parameter_shapes(arch, k):
    """Named parameter shapes in PyTorch's layout, as the README's architectures describe them."""
    if arch["kind"] == "linear":
        return {"fc.weight": (k, 784), "fc.bias": (k,)}
    if arch["kind"] == "dnn":
        shapes, width = {}, 784
        for i, h in enumerate(arch["hidden"], start=1):
            shapes[f"fc{i}.weight"], shapes[f"fc{i}.bias"], width = (h, width), (h,), h
        shapes.update({"out.weight": (k, width), "out.bias": (k,)})
        return shapes
    shapes, ch, side = {}, 1, 28
    for i, c in enumerate(arch["channels"], start=1):
        shapes[f"conv{i}.weight"], shapes[f"conv{i}.bias"], ch, side = (c, ch, 3, 3), (c,), c, side // 2
    hidden = arch["hidden"]
    shapes.update({"fc1.weight": (hidden, ch * side * side), "fc1.bias": (hidden,)})
    shapes.update({"out.weight": (k, hidden), "out.bias": (k,)})
    return shapes


def write_run(directory: Path, name: str, seed: int) -> Path:
    """A run directory like `emnist train` writes: He-scaled random weights, a full model.json."""
    arch = ARCHITECTURES[name]
    rng = np.random.default_rng(seed)
    tensors = {}
    for key, shape in parameter_shapes(arch, len(CLASSES)).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        tensors[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    directory.mkdir(parents=True)
    save_file(tensors, str(directory / "model.safetensors"))
    record = {
        "format_version": 1,
        "spec": {
            "architecture": arch,
            "input": {"channels": 1, "height": 28, "width": 28, "scale": 1.0 / 255.0},
            "classes": {"labels": list(range(len(CLASSES))), "names": CLASSES},
        },
        "parameters": int(sum(t.size for t in tensors.values())),
        "dataset": {"name": "python test weights", "split": None, "fingerprint": "0" * 16,
                    "train_images": 0, "test_images": 0, "synthetic": True},
        "training": {"learning_rate": 0.001, "batch_size": 128, "epochs": 0, "seed": seed,
                     "class_weights": "none", "eval_every": 1, "eval_fraction": 0.05,
                     "device": "cpu", "threads": 1},
        "metrics": {"test_loss": 4.0, "test_accuracy": 0.5, "balanced_accuracy": 0.5,
                    "per_class_accuracy": [0.5] * len(CLASSES), "top_confusions": [],
                    "steps": 0, "epochs_completed": 0},
        "wall_time_s": 0.0,
        "versions": {"emnist": "python-test", "tch": "none", "libtorch": "none"},
    }
    (directory / "model.json").write_text(json.dumps(record, indent=2))
    return directory


def export(emnist_bin, run: Path, out: Path, opset=17):
    done = subprocess.run(
        [str(emnist_bin), "export", "--onnx", "--json", "--model", str(run), "--out", str(out),
         "--opset", str(opset), "--data", str(FIXTURE_DATA), "--no-cache"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["written"] and report["parity"]["passed"], report
    return report


def torch_forward(name, weights, x):
    """The architectures in plain PyTorch: logits and softmax probabilities."""
    arch, a = ARCHITECTURES[name], torch.from_numpy(x)
    with torch.no_grad():
        if arch["kind"] == "linear":
            a = F.linear(a.flatten(1), weights["fc.weight"], weights["fc.bias"])
        elif arch["kind"] == "dnn":
            a = a.flatten(1)
            for i in range(1, len(arch["hidden"]) + 1):
                a = F.elu(F.linear(a, weights[f"fc{i}.weight"], weights[f"fc{i}.bias"]))
            a = F.linear(a, weights["out.weight"], weights["out.bias"])
        else:
            for i in range(1, len(arch["channels"]) + 1):
                a = F.conv2d(a, weights[f"conv{i}.weight"], weights[f"conv{i}.bias"], padding=1)
                a = F.max_pool2d(F.relu(a), 2, 2)
            a = F.relu(F.linear(a.flatten(1), weights["fc1.weight"], weights["fc1.bias"]))
            a = F.linear(a, weights["out.weight"], weights["out.bias"])
        return a.numpy(), F.softmax(a, dim=1).numpy()


def inputs():
    """Real fixture images (idx, gzip), random images, and the two extremes; [N, 1, 28, 28] in [0, 1]."""
    raw = gzip.decompress((FIXTURE_DATA / "t10k-images-idx3-ubyte.gz").read_bytes())
    n = int.from_bytes(raw[4:8], "big")
    real = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    rand = np.random.default_rng(7).random((64, 1, 28, 28), dtype=np.float32)
    return np.concatenate([real, rand, np.zeros((1, 1, 28, 28), np.float32), np.ones((1, 1, 28, 28), np.float32)])


@pytest.mark.parametrize("name", ["linear", "dnn", "cnn"])
def test_checker_passes_and_onnxruntime_matches_pytorch(emnist_bin, tmp_path, name):
    run = write_run(tmp_path / name, name, seed=len(name))
    out = tmp_path / f"{name}.onnx"
    report = export(emnist_bin, run, out)

    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = inputs()
    logits, probabilities = session.run(["logits", "probabilities"], {"image": x})
    want_logits, want = torch_forward(name, load_file(str(run / "model.safetensors")), x)
    diff = float(np.abs(probabilities - want).max())
    assert diff <= TOLERANCE, f"{name}: onnxruntime vs PyTorch max |dp| {diff}"
    assert (probabilities.argmax(1) == want.argmax(1)).all()
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-4)
    # The report's figures are the Rust side's own check (tract vs its forward pass).
    assert report["parity"]["max_abs_diff_probabilities"] <= TOLERANCE


def test_graph_contract_and_metadata(emnist_bin, tmp_path):
    run = write_run(tmp_path / "cnn", "cnn", seed=1)
    out = tmp_path / "cnn.onnx"
    export(emnist_bin, run, out)
    model = onnx.load(str(out))
    assert model.producer_name == "emnist" and "classifier" in model.doc_string
    assert [o.domain or "" for o in model.opset_import] == [""] and model.opset_import[0].version == 17
    graph = model.graph
    assert [i.name for i in graph.input] == ["image"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in graph.output] == ["logits", "probabilities"]
    for o in graph.output:
        d = o.type.tensor_type.shape.dim
        assert d[0].dim_param == "N" and d[1].dim_value == len(CLASSES)
    assert "Dropout" not in [n.op_type for n in graph.node]
    for init in graph.initializer:
        assert init.data_type == onnx.TensorProto.FLOAT and len(init.raw_data) == 4 * int(np.prod(init.dims))
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == CLASSES
    assert meta["dataset"] == "python test weights" and float(meta["test_accuracy"]) == 0.5
    assert json.loads(meta["input_normalisation"])["range"] == [0.0, 1.0]
    value_inputs = json.loads((tmp_path / "cnn.value_inputs.json").read_text())
    assert value_inputs == {"image": [onnx.TensorProto.FLOAT, [1, 1, 28, 28]]}
    # Dynamic batch: any N runs.
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 3, 100):
        (p,) = session.run(["probabilities"], {"image": np.zeros((n, 1, 28, 28), np.float32)})
        assert p.shape == (n, len(CLASSES)) and np.allclose(p.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets_pass_the_checker_and_match(emnist_bin, tmp_path, opset):
    run = write_run(tmp_path / "cnn", "cnn", seed=opset)
    out = tmp_path / f"cnn-{opset}.onnx"
    export(emnist_bin, run, out, opset=opset)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    x = inputs()
    (p,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["probabilities"], {"image": x})
    _, want = torch_forward("cnn", load_file(str(run / "model.safetensors")), x)
    assert float(np.abs(p - want).max()) <= TOLERANCE
