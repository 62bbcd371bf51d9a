"""A peer for bench/serve_vs_peers.sh: a custom Seldon MLServer runtime that runs the exported ONNX
file with onnxruntime, the way an MLServer user would serve it without our server (MLServer 1.7
ships no ONNX runtime of its own).

bench/serve_vs_peers.sh writes MLServer's `settings.json` (ports; `parallel_workers: 0`, because
its parallel workers crash with the current uvloop) and the model's `model-settings.json`
(`"implementation": "mlserver_runtime.OnnxRuntime"`, `parameters.uri`: the ONNX file,
`parameters.extra.intra_op_threads`) into a folder of its own and runs `mlserver start` there with
this folder on PYTHONPATH. KServe v2 over REST and gRPC: input `image`, FP32 `[n, 784]` or
`[n, 1, 28, 28]`; the requested outputs (both `logits` and `probabilities` when none is named).
"""

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

OUTPUTS = ["logits", "probabilities"]


class OnnxRuntime(MLModel):
    async def load(self) -> bool:
        params = self.settings.parameters
        extra = params.extra or {}
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(extra.get("intra_op_threads", 1))
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(params.uri, so, providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False).reshape(-1, 1, 28, 28)
        names = [o.name for o in payload.outputs] if payload.outputs else OUTPUTS
        outs = self.sess.run(names, {"image": x})
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[NumpyCodec.encode_output(name=n, payload=o) for n, o in zip(names, outs)],
        )
