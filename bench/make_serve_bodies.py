"""Request bodies for the serving benchmarks, written once so the load generator only replays bytes.

    .venv/bin/python bench/make_serve_bodies.py [OUT_DIR]      (default bench/out/serve)

Images: the first 128 test images of Fashion-MNIST (real 28x28 greyscale images, Debian's
dataset-fashion-mnist), scaled to [0, 1] the way a Python client would send them
(`(uint8 / 255).astype(float32).tolist()`). Written:

  tfs_1.json          TF-Serving row format, one image:  {"instances": [28x28 floats]}
  tfs_128.json        the same, 128 images
  kserve_fp32_1.json    KServe v2 JSON, FP32 [1, 784], output `probabilities`
  kserve_fp32_128.json  KServe v2 JSON, FP32 [128, 784], output `probabilities`
  kserve_u8_128.json    KServe v2 JSON, UINT8 [128, 784] (0..255), output `probabilities`
  kserve_bin_128.bin    KServe v2 with Triton's binary tensor extension: JSON header + raw FP32
                        [128, 784]; `probabilities` answered in binary. Header length in
                        kserve_bin_128.hlen (the `Inference-Header-Content-Length` value).
  graphpipe_128.fb    GraphPipe flatbuffers InferRequest, float32 [128, 1, 28, 28], output
                      `probabilities` (built by the PyPI `graphpipe` package)
  grpc_1.bin          a KServe v2 gRPC ModelInferRequest (model `emnist`, FP32 [1, 784] in
                      `raw_input_contents`, output `probabilities`) framed as on the wire (a 0 byte,
                      the length as 4 bytes big-endian, the message), for h2load to replay
  grpc_128.bin        the same, 128 images
  bentoml_1.json      BentoML's own REST JSON (bench/peers/bentoml_service.py), one image:
                      {"images": [[784 floats]]}
  bentoml_128.json    the same, 128 images
  images_128.f32      the 128 images as raw little-endian float32 (for the engine benchmark)
  sizes.json          byte size of each body
"""

import gzip
import json
import os
import sys

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def load_images(n):
    with gzip.open(DATA, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    assert magic == 2051 and rows == 28 and cols == 28, "not an idx3 image file"
    return np.frombuffer(raw[16:], dtype=np.uint8)[: n * 784].reshape(n, 28, 28).copy()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/out/serve"
    os.makedirs(out, exist_ok=True)
    u8 = load_images(128)
    f32 = (u8 / 255.0).astype(np.float32)
    sizes = {}

    def write(name, data):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(out, name), mode) as f:
            f.write(data)
        sizes[name] = len(data.encode() if isinstance(data, str) else data)

    write("tfs_1.json", json.dumps({"instances": f32[:1].tolist()}))
    write("tfs_128.json", json.dumps({"instances": f32.tolist()}))
    flat = f32.reshape(128, 784)
    kserve = lambda dt, data: json.dumps({
        "inputs": [{"name": "image", "shape": [128, 784], "datatype": dt, "data": data}],
        "outputs": [{"name": "probabilities"}],
    })
    write("kserve_fp32_1.json", json.dumps({
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": flat[:1].reshape(-1).tolist()}],
        "outputs": [{"name": "probabilities"}],
    }))
    write("kserve_fp32_128.json", kserve("FP32", flat.reshape(-1).tolist()))
    write("kserve_u8_128.json", kserve("UINT8", u8.reshape(-1).tolist()))
    raw = flat.astype("<f4").tobytes()
    header = json.dumps({
        "inputs": [{"name": "image", "shape": [128, 784], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
    }).encode()
    write("kserve_bin_128.bin", header + raw)
    with open(os.path.join(out, "kserve_bin_128.hlen"), "w") as f:
        f.write(str(len(header)))

    import graphpipe.convert as gc

    req = gc.InferReq(None, [f32.reshape(128, 1, 28, 28)], None, ["probabilities"])
    write("graphpipe_128.fb", bytes(gc.serialize_infer_request(req)))
    from tritonclient.grpc import service_pb2

    for n in (1, 128):
        msg = service_pb2.ModelInferRequest(model_name="emnist")
        inp = msg.inputs.add(name="image", datatype="FP32")
        inp.shape.extend([n, 784])
        msg.outputs.add(name="probabilities")
        msg.raw_input_contents.append(flat[:n].astype("<f4").tobytes())
        raw_msg = msg.SerializeToString()
        write(f"grpc_{n}.bin", b"\0" + len(raw_msg).to_bytes(4, "big") + raw_msg)
    for n in (1, 128):
        write(f"bentoml_{n}.json", json.dumps({"images": flat[:n].tolist()}))
    write("images_128.f32", f32.astype("<f4").tobytes())
    with open(os.path.join(out, "sizes.json"), "w") as f:
        json.dump(sizes, f, indent=1)
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
