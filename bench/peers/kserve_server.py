"""A peer for bench/serve_vs_peers.sh: KServe's own Python model server (PyPI `kserve`, its
`ModelServer` on FastAPI/uvicorn and grpcio) with a custom `Model` running the exported ONNX file
with onnxruntime, the way a KServe user would serve it without our server.

    .venv/kserve-server/bin/python bench/peers/kserve_server.py --model models/dnn.onnx \
        --http-port 9322 --grpc-port 9323 [--intra-op-threads 1]

Model name `emnist`. Answers KServe v1 REST (`POST /v1/models/emnist:predict`, TF-Serving's row
format `{"instances": [...]}` answered as `{"predictions": [{"logits": [...], "probabilities":
[...]}]}`, like `emnist serve` and the Flask baseline), and KServe v2 over REST and gRPC (input
`image`, FP32 `[n, 784]` or `[n, 1, 28, 28]`; the requested outputs, both when none is named).
"""

import argparse
import logging
import uuid

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

OUTPUTS = ["logits", "probabilities"]


class OnnxModel(Model):
    def __init__(self, name, path, threads):
        super().__init__(name)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.ready = True

    def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            x = payload.inputs[0].as_numpy().astype(np.float32, copy=False).reshape(-1, 1, 28, 28)
            names = [o.name for o in payload.request_outputs] if payload.request_outputs else OUTPUTS
            outs = self.sess.run(names, {"image": x})
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                infer_outputs=[InferOutput(name=n, shape=list(o.shape), datatype="FP32", data=o) for n, o in zip(names, outs)],
            )
        x = np.asarray(payload["instances"], dtype=np.float32).reshape(-1, 1, 28, 28)
        logits, probs = self.sess.run(OUTPUTS, {"image": x})
        return {"predictions": [{"logits": l.tolist(), "probabilities": q.tolist()} for l, q in zip(logits, probs)]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="models/dnn.onnx")
    p.add_argument("--http-port", type=int, default=9322)
    p.add_argument("--grpc-port", type=int, default=9323)
    p.add_argument("--intra-op-threads", type=int, default=1, help="onnxruntime intra-op threads (0: its default)")
    args = p.parse_args()
    model = OnnxModel("emnist", args.model, args.intra_op_threads)
    print(f"kserve_server: onnxruntime {ort.__version__}, intra_op_num_threads={args.intra_op_threads}", flush=True)
    # One uvicorn worker (KServe's default). Per-request logs off (the access log, the gRPC
    # interceptor's line, the latency trace): they would only slow it down.
    server = ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1, enable_docs_url=False,
                         enable_latency_logging=False)
    for name in ("kserve", "kserve.trace", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    server.start([model])


if __name__ == "__main__":
    main()
