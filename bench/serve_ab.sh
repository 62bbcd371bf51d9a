#!/usr/bin/env bash
# Two builds of `emnist serve` side by side in one run (a change against the release before it):
# the same model, the same bodies and the same load on each in turn, rounds alternating which goes
# first. Cells: KServe v2 JSON under wrk and KServe v2 gRPC under h2load, one image and 128 per
# request. Before timing, both answer h2load's exact gRPC bodies alike (bench/peers/grpc_check.py).
#
#   bash bench/serve_ab.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]
#        (defaults: models/dnn.onnx 3 10s; e.g. BASE_BIN built from the previous commit)
#
# Environment: CONNS (connections, 32), WRK_THREADS (2), SERVE_ARGS (extra flags for both),
# NEW_ARGS (extra flags for NEW only: the same binary twice with NEW_ARGS="--log-dir DIR" measures
# what logging costs), BASE_ARGS (extra flags for BASE only), SIZES (images per request, "1 128"),
# PROTOS ("json grpc"; also v1, TF Serving REST rows), P (first port, 9430). Needs wrk and h2load
# (Debian nghttp2-client: `make bench-peers-setup`). Prints the medians and, over the rounds, the
# geometric mean of new ÷ base with its 95 % interval.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/serve_ab.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]}
NEW=${2:?usage: bench/serve_ab.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]}
MODEL=${3:-models/dnn.onnx}
ROUNDS=${4:-3}
DUR=${5:-10s}
P=${P:-9430}
export CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-2}
EMNIST_BIN=$NEW
. bench/serve_common.sh
bench_setup
command -v h2load >/dev/null || { echo "needs h2load (Debian nghttp2-client): run make bench-peers-setup"; exit 1; }
start_two ab "$BASE" "$NEW"
SIZES=${SIZES:-1 128}
PROTOS=${PROTOS:-json grpc}
grpc_answers ab N "$SIZES" B=127.0.0.1:$((P + 1)) N=127.0.0.1:$((P + 3))
RUNS=$OUT/ab.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
for proto in $PROTOS; do for n in $SIZES; do for who in base new; do two_cell "$who" "$proto" "$n" "" 2s; done; done; done
for r in $(seq "$ROUNDS"); do
  for proto in $PROTOS; do
    for n in $SIZES; do
      if [ $((r % 2)) = 1 ]; then order="base new"; else order="new base"; fi
      for who in $order; do two_cell "$who" "$proto" "$n" "$RUNS" "$DUR"; done
    done
  done
done
# What each server counted (requests, and the payload log's entries and drops with NEW_ARGS).
curl -sf "http://127.0.0.1:$P/metrics" >"$OUT/ab-base.metrics" || true
curl -sf "http://127.0.0.1:$((P + 2))/metrics" >"$OUT/ab-new.metrics" || true
$PY - "$RUNS" "$MODEL" "$DUR" "$ROUNDS" "$CONNS" "$SIZES" "$PROTOS" <<'PYEOF'
import sys
sys.path.insert(0, "bench")
from serve_runs import geomean_interval, load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "non200"))
print(f"model {sys.argv[2]}, {sys.argv[5]} connections, {sys.argv[3]} per cell, {sys.argv[4]} round(s), medians")
print("| protocol | images/request | base req/s | new req/s | new ÷ base (medians) | new ÷ base: geometric mean [95 % interval] | base p99 ms | new p99 ms | base CPU ms/req | new CPU ms/req | failed (base/new) |")
print("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
names = {"json": "KServe v2 JSON (wrk)", "grpc": "KServe v2 gRPC (h2load)", "v1": "TF Serving REST rows (wrk)"}
for proto in sys.argv[7].split():
    for n in map(int, sys.argv[6].split()):
        base, new = by[f"base-{proto}-{n}"], by[f"new-{proto}-{n}"]
        b, w = med[f"base-{proto}-{n}"], med[f"new-{proto}-{n}"]
        mean, lo, hi = geomean_interval([w["rps"] / b["rps"] for b, w in zip(base, new)])
        fails = f"{sum(r['non200'] for r in base)}/{sum(r['non200'] for r in new)}"
        print(f"| {names[proto]} | {n} | {b['rps']:,.0f} | {w['rps']:,.0f} | {w['rps'] / b['rps']:.2f} | **{mean:.3f}** [{lo:.3f}, {hi:.3f}] | "
              f"{b['p99_ms']:.2f} | {w['p99_ms']:.2f} | {b['cpu_ms_per_req']:.3f} | {w['cpu_ms_per_req']:.3f} | {fails} |")
PYEOF
