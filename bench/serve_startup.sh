#!/usr/bin/env bash
# What `--engine auto` adds to start-up: the whole `emnist serve` process from launch to its first
# 200 on /v2/health/ready (the model loaded, warmed up and, with auto, both engines timed), with
# each engine, side by side in one run, REPS times each (median and max).
#
#   bash bench/serve_startup.sh [REPS] [MODELS]      (defaults: 5 "models/dnn.onnx models/cnn-best.onnx")
set -euo pipefail
cd "$(dirname "$0")/.."
EMNIST=${EMNIST_BIN:-target/release/emnist}
REPS=${1:-5}
MODELS=${2:-models/dnn.onnx models/cnn-best.onnx}
PY=.venv/bin/python
OUT=bench/out/startup
mkdir -p "$OUT"
: >"$OUT/times.txt"
for r in $(seq "$REPS"); do
  for m in $MODELS; do
    for engine in tract onnxruntime auto; do
      t0=$(date +%s.%N)
      "$EMNIST" serve --model "$m" --port 9431 --engine "$engine" >"$OUT/serve.log" 2>&1 &
      pid=$!
      until curl -sf -o /dev/null localhost:9431/v2/health/ready; do
        kill -0 $pid 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
        sleep 0.005
      done
      t1=$(date +%s.%N)
      kill -TERM $pid; wait $pid || true
      echo "$m $engine $(echo "$t1 - $t0" | bc)" >>"$OUT/times.txt"
    done
  done
done
$PY - "$OUT/times.txt" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for m, e, t in rows:
    by.setdefault((m, e), []).append(float(t) * 1000)
print(f"{'model':<24}{'engine':<13}{'median ms':>10}{'max ms':>9}")
for (m, e), v in by.items():
    print(f"{m:<24}{e:<13}{statistics.median(v):>10.0f}{max(v):>9.0f}")
PYEOF
