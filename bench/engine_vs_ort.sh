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
# Environment: ENGINE_BENCH_BIN (use this engine_bench binary instead of building it);
# SWEEP_BATCHES (default 1,2,4,8,16,32,64,128; empty to skip): after the table, images/s of
# tract and onnxruntime (one thread) at each of these batch sizes, 1 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-2}
MODELS=${3:-models/dnn.onnx models/cnn.onnx}
BATCHES=1,128
SWEEP_BATCHES=${SWEEP_BATCHES-1,2,4,8,16,32,64,128}
PY=.venv/bin/python
BENCH=${ENGINE_BENCH_BIN:-./target/release/examples/engine_bench}
[ -n "${ENGINE_BENCH_BIN:-}" ] || cargo build -q --release -p emnist-runtime --example engine_bench
OUT=bench/out/engine
mkdir -p "$OUT"
$PY bench/make_serve_bodies.py bench/out/serve >/dev/null
IMAGES=bench/out/serve/images_128.f32
RUNS=$OUT/runs.jsonl
SWEEP=$OUT/sweep.jsonl
: >"$RUNS"
: >"$SWEEP"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
  for m in $MODELS; do
    [ -f "$m" ] || { echo "needs $m (emnist export --onnx)"; exit 1; }
    # `fixed`: also tract on a plan optimised for each concrete batch size (a diagnostic).
    tract() { timeout 300 "$BENCH" "$m" "$BATCHES" "$SECONDS_PER" "$IMAGES" fixed >>"$RUNS"; }
    ort() { timeout 300 $PY bench/engine_ort.py "$m" "$BATCHES" "$SECONDS_PER" "$IMAGES" 1,0 >>"$RUNS"; }
    if [ $((r % 2)) = 1 ]; then tract; ort; else ort; tract; fi
  done
done
# Throughput by batch size (1 s each, one thread each): what `--max-batch` trades.
if [ -n "$SWEEP_BATCHES" ]; then
  for m in $MODELS; do
    timeout 300 "$BENCH" "$m" "$SWEEP_BATCHES" 1 "$IMAGES" >>"$SWEEP"
    timeout 300 $PY bench/engine_ort.py "$m" "$SWEEP_BATCHES" 1 "$IMAGES" 1 >>"$SWEEP"
  done
fi
$PY - "$RUNS" "$SECONDS_PER" "$ROUNDS" "$LOAD0" "$SWEEP" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault((r["model"], r["batch"], r["engine"], r["threads"]), []).append(r)
ver = next((r["version"] for r in runs if r["engine"] == "onnxruntime"), "?")
cols = [("tract", 1, "tract"), ("tract-fixed-batch", 1, "fixed"), ("onnxruntime", 1, "ort1"), ("onnxruntime", 0, "ortD")]
def table(field, title):
    print(title)
    head = "".join(f"{c[2] + ' ms':>10}" for c in cols) + "".join(f"{c[2] + ' img/s':>12}" for c in cols)
    print(f"{'model':16} {'batch':>5}{head} {'ort1/tract':>11} {'ortD/tract':>11}")
    for model in dict.fromkeys(r["model"] for r in runs):
        for b in sorted({r["batch"] for r in runs if r["model"] == model}):
            ms = [statistics.median(x[field] for x in by[(model, b, e, th)]) if (model, b, e, th) in by else float("nan") for e, th, _ in cols]
            line = "".join(f"{v:10.3f}" for v in ms) + "".join(f"{b / v * 1e3:12.0f}" for v in ms)
            print(f"{model:16} {b:5d}{line} {ms[2] / ms[0]:10.2f}x {ms[3] / ms[0]:10.2f}x")
print()
print(f"onnxruntime {ver}; {sys.argv[2]} s per run after warm-up, {sys.argv[3]} round(s); load average at start {sys.argv[4]}")
print("tract: emnist::onnx::TractModel (what `emnist serve` runs, symbolic batch), one thread; fixed: tract on a plan optimised")
print("for that batch size (diagnostic); ort1: onnxruntime intra_op_num_threads=1; ortD: its default, intra_op_num_threads=0 (all cores)")
table("median_ms", "per-call latency, median over rounds of each run's median:")
table("p10_ms", "the same with each run's 10th-percentile call (less sensitive to other work on a shared machine):")
print("ratio columns: onnxruntime's latency / tract's (above 1: tract faster; below 1: tract slower by 1/ratio)")
print("each run:")
for k, v in sorted(by.items()):
    print(f"  {k[0]} b{k[1]} {k[2]}-{k[3]}t runs: " + ", ".join(f"{x['median_ms']:.3f} ms ({x['calls']} calls)" for x in v))
sweep = [json.loads(l) for l in open(sys.argv[5])]
if sweep:
    print()
    print("images/s by batch size (1 s each, one thread each; median call):")
    bs = sorted({r["batch"] for r in sweep})
    print(f"{'':28}" + "".join(f"{b:>8}" for b in bs))
    for model in dict.fromkeys(r["model"] for r in sweep):
        for e in ("tract", "onnxruntime"):
            row = {r["batch"]: r["images_per_s"] for r in sweep if r["model"] == model and r["engine"] == e}
            print(f"{model + ' ' + e:28}" + "".join(f"{row.get(b, float('nan')):8.0f}" for b in bs))
PYEOF
