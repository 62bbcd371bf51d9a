"""Before the gRPC load runs of bench/serve_vs_peers.sh: each server answers the very bytes h2load
will replay (bench/make_serve_bodies.py's grpc_N.bin) with gRPC status OK and probabilities that
agree with the first server's; prints one JSON line per server with the size of its answer as
h2load counts it (5-byte frame header + message), which the result parser uses to tell answers
with data from gRPC errors (a Trailers-Only error carries no DATA frame).

    .venv/bin/python bench/peers/grpc_check.py BODY.bin NAME=HOST:PORT [NAME=HOST:PORT ...]
"""

import json
import sys

import grpc
import numpy as np
from tritonclient.grpc import service_pb2

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def probabilities(resp):
    for i, o in enumerate(resp.outputs):
        if o.name == "probabilities":
            if resp.raw_output_contents:
                a = np.frombuffer(resp.raw_output_contents[i], dtype="<f4")
            else:
                a = np.array(o.contents.fp32_contents, dtype=np.float32)
            return a.reshape(list(o.shape))
    raise SystemExit(f"no `probabilities` output in {resp.outputs}")


def main():
    framed = open(sys.argv[1], "rb").read()
    body = framed[5:]
    assert int.from_bytes(framed[1:5], "big") == len(body), "not one framed gRPC message"
    ref = None
    for spec in sys.argv[2:]:
        name, addr = spec.split("=", 1)
        with grpc.insecure_channel(addr) as ch:
            call = ch.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            raw = call(body, timeout=30)
        resp = service_pb2.ModelInferResponse.FromString(raw)
        p = probabilities(resp).astype(np.float64)
        if ref is None:
            ref = p
        d = float(np.abs(p - ref).max())
        same = int((p.argmax(1) == ref.argmax(1)).sum())
        assert p.shape == ref.shape and same == len(ref) and d < 1e-4, f"{name} disagrees: {d} {same}/{len(ref)}"
        print(json.dumps({"server": name, "answer_bytes": 5 + len(raw), "rows": len(p), "max_abs_diff": d}))


if __name__ == "__main__":
    main()
