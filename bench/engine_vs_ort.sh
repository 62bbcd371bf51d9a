#!/usr/bin/env bash
# Inference engine alone: tract (through emnist::onnx::TractModel, bench/engine_bench.rs, one
# thread per call) against onnxruntime (PyPI wheel, bench/engine_ort.py, with
# intra_op_num_threads=1 and with its default), the same ONNX files and the same input (real
# Fashion-MNIST test images), batch 1 and 128, side by side in one run.
#
#   bash bench/engine_vs_ort.sh [SECONDS] [ROUNDS] [MODELS]     (defaults: 3 2 "models/dnn.onnx models/cnn.onnx")
#
# SECONDS: time budget per (engine, batch) after warm-up; each round runs tract then onnxruntime
# for every model (the order alternates between rounds); the table shows the medians over
# rounds of each run's median per-call latency.
# Environment: ENGINE_BENCH_BIN (use this engine_bench binary instead of building it).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-2}
MODELS=${3:-models/dnn.onnx models/cnn.onnx}
BATCHES=1,128
PY=.venv/bin/python
BENCH=${ENGINE_BENCH_BIN:-./target/release/examples/engine_bench}
[ -n "${ENGINE_BENCH_BIN:-}" ] || cargo build -q --release --no-default-features --example engine_bench
OUT=bench/out/engine
mkdir -p "$OUT"
$PY bench/make_serve_bodies.py bench/out/serve >/dev/null
IMAGES=bench/out/serve/images_128.f32
RUNS=$OUT/runs.jsonl
: >"$RUNS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
  for m in $MODELS; do
    [ -f "$m" ] || { echo "needs $m (emnist export --onnx)"; exit 1; }
    tract() { timeout 300 "$BENCH" "$m" "$BATCHES" "$SECONDS_PER" "$IMAGES" >>"$RUNS"; }
    ort() { timeout 300 $PY bench/engine_ort.py "$m" "$BATCHES" "$SECONDS_PER" "$IMAGES" 1,0 >>"$RUNS"; }
    if [ $((r % 2)) = 1 ]; then tract; ort; else ort; tract; fi
  done
done
$PY - "$RUNS" "$SECONDS_PER" "$ROUNDS" "$LOAD0" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault((r["model"], r["batch"], r["engine"], r["threads"]), []).append(r)
med = {k: (statistics.median(x["median_ms"] for x in v), len(v)) for k, v in by.items()}
ver = next((r["version"] for r in runs if r["engine"] == "onnxruntime"), "?")
print()
print(f"per-call latency: median of each run's median ({sys.argv[2]} s per run, {sys.argv[3]} round(s)); onnxruntime {ver}; load average at start {sys.argv[4]}")
print(f"{'model':16} {'batch':>5} {'tract ms':>9} {'ort-1t ms':>10} {'ort-default ms':>14} {'tract img/s':>11} {'ort-1t img/s':>12} {'ort-def img/s':>13} {'ort-1t/tract':>12} {'ort-def/tract':>13}")
for model in dict.fromkeys(r["model"] for r in runs):
    for b in sorted({r["batch"] for r in runs if r["model"] == model}):
        t = med[(model, b, "tract", 1)][0]
        o1 = med[(model, b, "onnxruntime", 1)][0]
        o0 = med[(model, b, "onnxruntime", 0)][0]
        # ratio > 1: onnxruntime takes longer than tract (tract faster); < 1: tract slower.
        print(f"{model:16} {b:5d} {t:9.3f} {o1:10.3f} {o0:14.3f} {b / t * 1e3:11.0f} {b / o1 * 1e3:12.0f} {b / o0 * 1e3:13.0f} {o1 / t:11.2f}x {o0 / t:12.2f}x")
print("ratio columns: onnxruntime's latency / tract's (above 1: tract faster; below 1: tract slower by 1/ratio)")
for k, v in sorted(by.items()):
    print(f"  {k[0]} b{k[1]} {k[2]}-{k[3]}t runs: " + ", ".join(f"{x['median_ms']:.3f} ms ({x['calls']} calls)" for x in v))
PYEOF
