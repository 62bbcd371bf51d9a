"""A peer for bench/serve_vs_peers.sh: a BentoML 1.4 service running the exported ONNX file with
onnxruntime, with BentoML's adaptive batching, the way a BentoML user would serve it without our
server.

    EMNIST_ONNX=$PWD/models/dnn.onnx PEER_ORT_THREADS=1 BENTOML_DO_NOT_TRACK=True \
        .venv/bentoml/bin/bentoml serve bentoml_service:Emnist --working-dir bench/peers --port 9351

(bench/serve_vs_peers.sh runs it so, with BENTOML_HOME in its output folder.) BentoML has no
KServe v2 protocol: it answers its own REST JSON, `POST /predict` with `{"images": [[784 floats],
...]}` (FP32 pixels in [0, 1], one row per image; bench/make_serve_bodies.py's bentoml_N.json),
with the images' class probabilities, `[[62 floats], ...]`. One worker process, no access log. The
API is `batchable`: BentoML's dispatcher gathers the rows of concurrent requests (up to 128) into
one onnxruntime call and hands each request its own rows. onnxruntime runs with PEER_ORT_THREADS
intra-op threads (default 1), like the other Python peers.
"""

import os
from typing import Annotated

import bentoml
import numpy as np
import onnxruntime as ort
from bentoml.validators import DType


# One worker; the per-request access log off (as for the KServe peer): it would only slow it down.
@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class Emnist:
    def __init__(self):
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(os.environ.get("PEER_ORT_THREADS", "1"))
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(os.environ["EMNIST_ONNX"], so, providers=["CPUExecutionProvider"])
        print(f"bentoml_service: onnxruntime {ort.__version__}, intra_op_num_threads={so.intra_op_num_threads}",
              flush=True)

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=128, max_latency_ms=10000)
    def predict(self, images: Annotated[np.ndarray, DType("float32")]) -> np.ndarray:
        return self.sess.run(["probabilities"], {"image": images.reshape(-1, 1, 28, 28)})[0]
