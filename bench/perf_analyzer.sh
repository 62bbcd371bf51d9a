#!/usr/bin/env bash
# `emnist serve` under Triton's own load tool, perf_analyzer (scripts/perf_analyzer; `make setup`
# installs it), over HTTP and gRPC, loopback, one run:
#   1. a concurrency sweep (1, 4, 16, 64 requests in flight; one image per request) of the DNN and
#      the CNN, HTTP and gRPC, with the default engine (`auto`);
#   2. `--engine auto` against `tract` and `onnxruntime` forced, for every exported architecture:
#      gRPC, batches of 128 at concurrency 4 (full batches: throughput) and one image at
#      concurrency 16 (small calls: latency-bound); auto must be within 10 % of the better one.
#
#   bash bench/perf_analyzer.sh [MODELS_DIR] [ROUNDS]      (defaults: models/ from `make demo`, 3)
#
# SWEEP=0 skips part 1. Part 2 runs ROUNDS rounds (each engine's server started afresh each
# round, the order of engines rotating) and reports medians.
# SERVER=triton runs part 1 against NVIDIA Triton instead (bench/peers/tritonserver, the model
# repository of bench/serve_vs_peers.sh: a Python-backend model running the same ONNX file with
# onnxruntime at PEER_ORT_THREADS intra-op threads, default 1; `make bench-peers-setup`), same
# ports, same load; its output goes to bench/out/perf_analyzer/triton. Part 2 compares our engines
# and is skipped there.
#
# perf_analyzer sends zeros (`--input-data zero`: timing does not depend on pixel values, and its
# default random bytes are not valid pixels). Each point: 2 s windows until three agree within
# 15 % (at most 10; perf_analyzer exits 2 when they never do). Client and server share this
# machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
EMNIST=${EMNIST_BIN:-target/release/emnist}
MODELS=${1:-models}
ROUNDS=${2:-3}
SERVER=${SERVER:-emnist}
case $SERVER in emnist | triton) ;; *) echo "error: SERVER is emnist or triton, not \`$SERVER\`" >&2; exit 2 ;; esac
OUT=bench/out/perf_analyzer
[ "$SERVER" = emnist ] || OUT=$OUT/$SERVER
PY=.venv/bin/python
mkdir -p "$OUT"
PA=(scripts/perf_analyzer --input-data zero --measurement-interval 2000 --stability-percentage 15 --max-trials 10)

serve() {  # MODEL ENGINE → starts the server on 9411 (HTTP) and 9412 (gRPC)
  if [ "$SERVER" = triton ]; then
    .venv/triton/bin/python bench/peers/triton_repo.py "$1" "$OUT/repo" "$OUT/backends" \
      --intra-op-threads "${PEER_ORT_THREADS:-1}"
    bench/peers/tritonserver --model-repository "$OUT/repo" --backend-directory "$OUT/backends" \
      --http-address 127.0.0.1 --http-port 9411 --grpc-address 127.0.0.1 --grpc-port 9412 --allow-metrics false \
      --exit-timeout-secs 3 >"$OUT/serve.log" 2>&1 &
  else
    "$EMNIST" serve --model "$1" --port 9411 --grpc-port 9412 --engine "$2" >"$OUT/serve.log" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 600); do curl -sf localhost:9411/v2/health/ready >/dev/null && return; sleep 0.1; done
  echo "the server did not start: $(cat "$OUT/serve.log")"; exit 1
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; }

row() {  # LABEL CSV → one line: label, then per concurrency: infer/s and p99
  $PY - "$@" <<'PYEOF'
import csv, sys
label, path = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(path)))
cells = [f"c={r['Concurrency']}: {float(r['Inferences/Second']):,.0f}/s p99 {int(r['p99 latency']) / 1000:.2f} ms" for r in rows]
print(f"{label:<34} " + " | ".join(cells))
PYEOF
}

rm -f "$OUT/e-chosen.txt"
[ "${SWEEP:-1}" = 0 ] || {
echo "== 1. concurrency sweep, one image per request, $SERVER$([ "$SERVER" = emnist ] && echo " --engine auto") (load average $(cut -d' ' -f1-3 /proc/loadavg))"
for m in dnn cnn; do
  serve "$MODELS/$m.onnx" auto
  [ "$SERVER" != emnist ] || grep -o 'chosen="[a-z]*"' "$OUT/serve.log" | head -1 | sed "s/^/$m: /"
  for proto in http grpc; do
    port=$([ $proto = http ] && echo 9411 || echo 9412)
    # (a range start:end:step is linear: one run per level, rows gathered into one table)
    : >"$OUT/sweep-$m-$proto.csv"
    for c in 1 4 16 64; do
      "${PA[@]}" -m emnist -u localhost:$port -i $proto --concurrency-range $c -f "$OUT/c.csv" >"$OUT/sweep-$m-$proto-$c.txt" 2>&1 \
        || { cat "$OUT/sweep-$m-$proto-$c.txt"; exit 1; }
      if [ $c = 1 ]; then cat "$OUT/c.csv"; else tail -n +2 "$OUT/c.csv"; fi >>"$OUT/sweep-$m-$proto.csv"
    done
    row "$m $proto" "$OUT/sweep-$m-$proto.csv"
  done
  stop
done
}

if [ "$SERVER" != emnist ]; then
  echo "== 2. (--engine auto vs each engine forced: emnist serve only)"
  exit 0
fi
echo "== 2. --engine auto vs each engine forced (gRPC), $ROUNDS round(s), the engines' order rotating"
ENGINES=(auto tract onnxruntime)
for r in $(seq "$ROUNDS"); do
  for m in linear dnn cnn cnn-best; do
    [ -f "$MODELS/$m.onnx" ] || { echo "needs $MODELS/$m.onnx (make demo)"; exit 1; }
    for i in 0 1 2; do
      engine=${ENGINES[$(((i + r - 1) % 3))]}
      serve "$MODELS/$m.onnx" "$engine"
      chosen=$(grep -o 'chosen="[a-z]*"' "$OUT/serve.log" | head -1 || true)
      [ -z "$chosen" ] || echo "$m $chosen" >>"$OUT/e-chosen.txt"
      for b in 128 1; do
        c=$([ $b = 128 ] && echo 4 || echo 16)
        f=$OUT/e-$m-$engine-$b-r$r
        "${PA[@]}" -m emnist -u localhost:9412 -i grpc -b $b --concurrency-range $c -f "$f.csv" \
          >"$f.txt" 2>&1 || { tail -5 "$f.txt"; stop; exit 1; }
      done
      stop
      row "round $r: $m $engine ${chosen} b=128" "$OUT/e-$m-$engine-128-r$r.csv"
      row "round $r: $m $engine ${chosen} b=1" "$OUT/e-$m-$engine-1-r$r.csv"
    done
  done
done

# Medians over rounds; auto against the better of the two engines forced (goal: within 10 %).
$PY bench/perf_analyzer_summary.py "$OUT" "$ROUNDS"
