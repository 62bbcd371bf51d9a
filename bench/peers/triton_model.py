"""A peer for bench/serve_vs_peers.sh: the `model.py` of NVIDIA Triton's Python-backend model
`emnist`, running the exported ONNX file with onnxruntime, the way a PyTriton user serves a model
(Triton's C++ HTTP/gRPC front ends and dynamic batcher, the model run in Python).

bench/peers/triton_repo.py copies this file to `<repository>/emnist/1/model.py` and writes the
model's `config.pbtxt`; its parameters name the ONNX file (`onnx_path`) and onnxruntime's
intra-op threads (`intra_op_threads`). Input `image`, FP32 `[n, 784]` (`max_batch_size: 128`);
outputs `logits` and `probabilities`, FP32 `[n, classes]`. The dynamic batcher hands `execute`
several requests at once: their images go through onnxruntime in one call, and each request gets
its own rows back, only the outputs it asked for (both when it named none).
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

OUTPUTS = ["logits", "probabilities"]


class TritonPythonModel:
    def initialize(self, args):
        params = {k: v["string_value"] for k, v in json.loads(args["model_config"]).get("parameters", {}).items()}
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(params.get("intra_op_threads", "1"))
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(params["onnx_path"], so, providers=["CPUExecutionProvider"])
        print(f"triton_model: Python {sys.version.split()[0]} of `{sys.prefix}`, onnxruntime {ort.__version__}, "
              f"intra_op_num_threads={so.intra_op_num_threads}", flush=True)

    def execute(self, requests):
        images = [pb_utils.get_input_tensor_by_name(r, "image").as_numpy() for r in requests]
        x = np.concatenate(images) if len(images) > 1 else images[0]
        outs = dict(zip(OUTPUTS, self.sess.run(OUTPUTS, {"image": x.reshape(-1, 1, 28, 28)})))
        responses, row = [], 0
        for r, img in zip(requests, images):
            n = img.shape[0]
            names = r.requested_output_names() or OUTPUTS
            tensors = [pb_utils.Tensor(name, outs[name][row:row + n]) for name in names]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            row += n
        return responses
