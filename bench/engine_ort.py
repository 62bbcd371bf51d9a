"""The baseline of the inference-engine benchmark: onnxruntime (the PyPI wheel in .venv) running
the same ONNX file on the same input, timed call by call, like bench/engine_bench.rs.

    .venv/bin/python bench/engine_ort.py MODEL.onnx [BATCHES] [SECONDS] [IMAGES.f32] [THREADS]

THREADS: comma-separated `intra_op_num_threads` settings (default `1,0`; 0 is onnxruntime's
default, one thread per physical core). Prints one JSON line per (threads, batch) pair.
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    argv = sys.argv[1:]
    model = argv[0]
    batches = [int(b) for b in (argv[1] if len(argv) > 1 else "1,128").split(",")]
    budget = float(argv[2]) if len(argv) > 2 else 3.0
    images_path = argv[3] if len(argv) > 3 and argv[3] else None
    threads = [int(t) for t in (argv[4] if len(argv) > 4 else "1,0").split(",")]
    if images_path:
        images = np.fromfile(images_path, dtype="<f4").reshape(-1, 784)
    else:
        images = np.random.default_rng(0).random((128, 784), dtype=np.float32)

    for th in threads:
        so = ort.SessionOptions()
        so.intra_op_num_threads = th
        so.inter_op_num_threads = 1
        t_load = time.perf_counter()
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        load_ms = (time.perf_counter() - t_load) * 1e3
        for n in batches:
            x = np.resize(images, (n, 784)).astype(np.float32).reshape(n, 1, 28, 28)
            feed = {"image": x}
            names = ["logits", "probabilities"]
            t_warm = time.perf_counter()
            warm = 0
            while warm < 5 or time.perf_counter() - t_warm < 0.3:
                sess.run(names, feed)
                warm += 1
            times = []
            t0 = time.perf_counter()
            while len(times) < 20 or time.perf_counter() - t0 < budget:
                t = time.perf_counter()
                sess.run(names, feed)
                times.append(time.perf_counter() - t)
            times.sort()
            q = lambda p: times[round((len(times) - 1) * p)]
            med = q(0.5)
            print(json.dumps({
                "engine": "onnxruntime",
                "threads": th,
                "model": model,
                "batch": n,
                "calls": len(times),
                "median_ms": med * 1e3,
                "p10_ms": q(0.1) * 1e3,
                "p90_ms": q(0.9) * 1e3,
                "images_per_s": n / med,
                "load_ms": load_ms,
                "version": ort.__version__,
            }), flush=True)


if __name__ == "__main__":
    main()
