#!/usr/bin/env python3
"""Seeds fuzz/corpus/{mat,idx,graphpipe,json_requests}.

mat: every .mat fixture in tests/fixtures, plus a copy of each whose miCOMPRESSED elements are
inflated into plain miMATRIX elements, so the fuzzer reaches the array parser without first having
to keep a zlib stream valid. idx: every .gz idx fixture, its decompressed form, and the mapping .txt
files. json_requests: TF-Serving predict and KServe v2 infer bodies, valid and not, JSON and binary.
These three need only the standard library.

graphpipe: requests made by the reference client's serializer (PyPI `graphpipe` 1.0.4, with numpy),
so the seeds are what real clients send, not what our own encoder writes. Run the script with the
project's virtual environment (`.venv/bin/python fuzz/seed_corpus.py`); with a Python that lacks
the package it skips graphpipe and says so.
Re-running is harmless: files are overwritten, the fuzzer's own corpus entries are kept.
"""
import gzip
import json
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"


def inflate_mat(data: bytes):
    """The same MAT v5 file with compressed top-level elements stored uncompressed, or None."""
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        return None
    order = "<" if data[126:128] == b"IM" else ">"
    out, pos, changed = bytearray(data[:128]), 128, False
    while pos + 8 <= len(data):
        ty, n = struct.unpack(order + "II", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if ty == 15:
            try:
                inner = zlib.decompress(body)
            except zlib.error:
                return None
            out += inner + b"\0" * (-len(inner) % 8)
            changed = True
        else:
            out += data[pos : pos + 8 + n] + b"\0" * (-n % 8 if ty == 14 else 0)
        pos += 8 + n + (-n % 8 if ty == 14 else 0)
    return bytes(out) if changed else None


def gunzip_partial(data: bytes) -> bytes:
    """Decompresses as much as possible (the truncated-gz fixtures end mid-stream)."""
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            return d.decompress(data)
        except zlib.error:
            return b""


def graphpipe_seeds():
    """GraphPipe request bodies from the reference client's serializer, or None without it."""
    try:
        import numpy as np
        from graphpipe import convert
    except ImportError as e:
        print(f"fuzz/corpus/graphpipe: skipped ({e}); run with .venv/bin/python")
        return None

    def infer(tensors, input_names=None, output_names=None, config=None):
        req = convert.InferReq(config, tensors, input_names, output_names)
        return bytes(convert.serialize_infer_request(req))

    grey = (np.arange(784) % 256).astype(np.uint8)
    return {
        # Valid: the three shapes, uint8 / float32 / float64, names or none.
        "u8-1x28x28.fb": infer([np.zeros((1, 28, 28), np.uint8)], output_names=["probabilities"]),
        "u8-2x784-ramp.fb": infer([np.stack([grey, grey[::-1]])], input_names=["image"]),
        "f32-1x784.fb": infer([np.full((1, 784), 0.5, np.float32)], output_names=["logits", "probabilities"]),
        "f32-1x1x28x28.fb": infer([np.zeros((1, 1, 28, 28), np.float32)], ["image"], ["logits"], "cfg"),
        "f64-1x784.fb": infer([np.linspace(0, 1, 784).reshape(1, 784)]),
        "f64-3x28x28.fb": infer([np.full((3, 28, 28), 0.25, np.float64)], output_names=["probabilities"]),
        "metadata.fb": bytes(convert.serialize_metadata_request()),
        # Decodes, then fails validation: wrong shapes, types, values, names, counts.
        "bad-shape-1x783.fb": infer([np.zeros((1, 783), np.float32)]),
        "bad-shape-0x784.fb": infer([np.zeros((0, 784), np.uint8)]),
        "bad-shape-28x28.fb": infer([np.zeros((28, 28), np.uint8)]),
        "bad-shape-1x3x28x28.fb": infer([np.zeros((1, 3, 28, 28), np.float32)]),
        "bad-shape-scalar.fb": infer([np.array(0.5, np.float32)]),
        "bad-type-int32.fb": infer([np.zeros((1, 784), np.int32)]),
        "bad-type-float16.fb": infer([np.zeros((1, 784), np.float16)]),
        "bad-type-string.fb": infer([np.array([["a", "bc"]])]),
        "bad-range-f32.fb": infer([np.full((1, 784), 2.0, np.float32)]),
        "bad-nan-f64.fb": infer([np.full((1, 784), np.nan)]),
        "bad-names.fb": infer([np.zeros((1, 784), np.uint8)], ["x"], ["softmax"]),
        "bad-two-tensors.fb": infer([np.zeros((1, 784), np.uint8), np.zeros((1, 28, 28), np.float32)]),
        "bad-no-tensor.fb": infer([], output_names=["probabilities"]),
    }


def json_seeds():
    """TF-Serving and KServe v2 request bodies. KServe binary bodies are the JSON header followed
    by the raw tensor; the fuzz target takes the header length to be where the JSON value ends."""
    image = [[0.5] * 28 for _ in range(28)]
    row = [0.25] * 784

    def body(v):
        return json.dumps(v, separators=(",", ":")).encode()

    def kserve(shape, datatype, data, **extra):
        return body({"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": data}], **extra})

    def kserve_binary(shape, datatype, raw, **extra):
        inp = {"name": "image", "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": len(raw)}}
        return body({"inputs": [inp], **extra}) + raw

    return {
        # TF-Serving REST: row format (bare and named), columnar.
        "tfs-instances-28x28.json": body({"instances": [image]}),
        "tfs-instances-named-784.json": body({"instances": [{"image": row}, {"image": row}]}),
        "tfs-inputs-1x1x28x28.json": body({"inputs": {"image": [[image]]}}),
        "tfs-inputs-bare-784.json": body({"inputs": [[0, 1] * 392]}),
        "tfs-bad-ragged.json": body({"instances": [row, row[:-1]]}),
        "tfs-bad-range.json": body({"instances": [[2.5] * 784]}),
        "tfs-bad-null.json": body({"instances": [[None] * 784]}),
        "tfs-bad-both.json": body({"instances": [row], "inputs": [row]}),
        # KServe v2 JSON: flat and nested data, the three datatypes, outputs and parameters.
        "ks-u8-flat.json": kserve([1, 784], "UINT8", [7] * 784),
        "ks-fp32-nested.json": kserve([1, 28, 28], "FP32", image, id="a", outputs=[{"name": "probabilities"}]),
        "ks-fp64-4d.json": kserve([1, 1, 28, 28], "FP64", row, parameters={"binary_data_output": True},
                                  outputs=[{"name": "logits", "parameters": {"binary_data": False}}]),
        "ks-bad-int64.json": kserve([1, 784], "INT64", [0] * 784),
        "ks-bad-u8-300.json": kserve([1, 784], "UINT8", [300] * 784),
        "ks-bad-count.json": kserve([2, 784], "FP32", row),
        "ks-bad-classification.json": kserve([1, 784], "FP32", row, outputs=[{"name": "logits", "parameters": {"classification": 3}}]),
        # KServe v2 with Triton's binary tensor data.
        "ks-bin-u8.bin": kserve_binary([1, 784], "UINT8", bytes(i % 256 for i in range(784))),
        "ks-bin-fp32-2x784.bin": kserve_binary([2, 784], "FP32", struct.pack("<1568f", *([0.5] * 1568)),
                                               parameters={"binary_data_output": True}),
        "ks-bin-fp64.bin": kserve_binary([1, 28, 28], "FP64", struct.pack("<784d", *([0.125] * 784))),
        "ks-bin-bad-size.bin": kserve_binary([1, 784], "FP32", b"\0" * 783),
    }


def main():
    mat, idx = CORPUS / "mat", CORPUS / "idx"
    mat.mkdir(parents=True, exist_ok=True)
    idx.mkdir(parents=True, exist_ok=True)
    for f in sorted(FIXTURES.glob("*.mat")):
        data = f.read_bytes()
        (mat / f.name).write_bytes(data)
        plain = inflate_mat(data)
        if plain is not None:
            (mat / (f.stem + ".uncompressed.mat")).write_bytes(plain)
    for f in sorted(FIXTURES.rglob("*")):
        if not f.is_file() or not (f.name.endswith(".gz") or f.name.endswith("mapping.txt")):
            continue
        name = "-".join(f.relative_to(FIXTURES).parts)
        data = f.read_bytes()
        (idx / name).write_bytes(data)
        if f.name.endswith(".gz"):
            raw = gunzip_partial(data)
            if raw:
                (idx / name[: -len(".gz")]).write_bytes(raw)
    dirs = [mat, idx]
    for name, make in (("json_requests", json_seeds), ("graphpipe", graphpipe_seeds)):
        seeds = make()
        if seeds is None:
            continue
        d = CORPUS / name
        d.mkdir(parents=True, exist_ok=True)
        for fname, data in seeds.items():
            (d / fname).write_bytes(data)
        dirs.append(d)
    for d in dirs:
        files = list(d.iterdir())
        print(f"{d.relative_to(ROOT)}: {len(files)} files, {sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
