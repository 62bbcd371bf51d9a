"""The baseline server: a plain Flask app running the exported ONNX model with onnxruntime, on
Flask's own threaded development server (what the seed's "simple web application" did).

    .venv/bin/python bench/flask_app.py --model models/dnn.onnx --port 9101 [--intra-op-threads 1]

`POST /v1/models/emnist:predict` takes TF-Serving's row format, `{"instances": [image, ...]}` with
each image a 28x28 (or 784) list of floats in [0, 1], and answers
`{"predictions": [{"logits": [...], "probabilities": [...]}, ...]}`, like `emnist serve`.
One onnxruntime session shared by the request threads (its `run` is thread-safe);
`intra_op_num_threads` 1 by default. The per-request access log is switched off (it would only
slow Flask down).
"""

import argparse
import logging

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="models/dnn.onnx")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9101)
    p.add_argument("--intra-op-threads", type=int, default=1, help="onnxruntime intra-op threads (0: its default)")
    args = p.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.intra_op_threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    app = Flask(__name__)

    @app.post("/v1/models/emnist:predict")
    def predict():
        body = request.get_json(force=True)
        x = np.asarray(body["instances"], dtype=np.float32).reshape(-1, 1, 28, 28)
        logits, probs = sess.run(["logits", "probabilities"], {"image": x})
        return jsonify(predictions=[{"logits": l.tolist(), "probabilities": q.tolist()} for l, q in zip(logits, probs)])

    @app.get("/health")
    def health():
        return "ok"

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"flask_app: onnxruntime {ort.__version__}, intra_op_num_threads={args.intra_op_threads}, "
          f"listening on http://{args.host}:{args.port}", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
