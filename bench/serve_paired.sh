#!/usr/bin/env bash
# Two `emnist serve` processes loaded at the same time, each by its own load generator: the
# relative cost of a change (a flag, or another build) measured under the same machine noise.
# On a shared machine whose speed drifts from second to second, one-after-the-other rounds
# (bench/serve_ab.sh) swing by ±25 % per round; here both servers see the same spell, so the
# per-round ratio is steady and a few percent are measurable. Each server has half the machine,
# so the absolute requests/s are about half of a lone server's: read the ratios.
# The ratio is the servers' CPU cost per request only while the scheduler gives them equal
# shares, as for one binary with and without a flag. Two builds whose threads wait and run
# differently get unequal shares: 128-image JSON of 4c2e534 against 5236532 gave 1.67× here and
# 1.40× one server at a time (bench/RESULTS.md). Compare such builds with bench/serve_ab.sh.
# A flag that adds a thread (the payload log's writer) gives that side the thread's share too.
#
#   bash bench/serve_paired.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]
#        (defaults: models/dnn.onnx 10 5s)
#
# Environment: NEW_ARGS (extra flags for NEW only: the same binary twice with
# NEW_ARGS="--log-dir DIR" measures what the payload log costs; with none, the run measures the
# harness itself and should give 1.00), BASE_ARGS (extra flags for BASE only: two builds that
# both log, each to its own folder), SERVE_ARGS (extra flags for both), CONNS (connections per server, 32), SIZES (images per
# request, "1"), PROTOS ("json grpc"; also v1, TF Serving REST rows), P (first port, 9470). Needs wrk and h2load.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/serve_paired.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]}
NEW=${2:?usage: bench/serve_paired.sh BASE_BIN NEW_BIN [MODEL] [ROUNDS] [DURATION]}
MODEL=${3:-models/dnn.onnx}
ROUNDS=${4:-10}
DUR=${5:-5s}
P=${P:-9470}
# One load-generator thread per server: two in all, as bench/serve_ab.sh uses for one server.
export CONNS=${CONNS:-32} WRK_THREADS=1
EMNIST_BIN=$NEW
. bench/serve_common.sh
bench_setup
command -v h2load >/dev/null || { echo "needs h2load (Debian nghttp2-client): run make bench-peers-setup"; exit 1; }
start_two paired "$BASE" "$NEW"
SIZES=${SIZES:-1}
PROTOS=${PROTOS:-json grpc}
grpc_answers paired N "$SIZES" B=127.0.0.1:$((P + 1)) N=127.0.0.1:$((P + 3))
RUNS=$OUT/paired.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
# pair PROTO N RESULT DURATION: both servers at once; each writes its own result file, appended
# to RESULT in a fixed order once both are done.
pair() {
  local proto=$1 n=$2 result=$3 dur=$4 b n_
  if [ -n "$result" ]; then b=$OUT/paired-one-base n_=$OUT/paired-one-new; : >"$b"; : >"$b.cpu"; : >"$n_"; : >"$n_.cpu"; else b="" n_=""; fi
  two_cell base "$proto" "$n" "$b" "$dur" & local pb=$!
  two_cell new "$proto" "$n" "$n_" "$dur" & local pn=$!
  wait "$pb"
  wait "$pn"
  if [ -n "$result" ]; then cat "$b" "$n_" >>"$result"; cat "$b.cpu" "$n_.cpu" >>"$result.cpu"; fi
}
for proto in $PROTOS; do for n in $SIZES; do pair "$proto" "$n" "" 2s; done; done
for _ in $(seq "$ROUNDS"); do
  for proto in $PROTOS; do for n in $SIZES; do pair "$proto" "$n" "$RUNS" "$DUR"; done; done
done
curl -sf "http://127.0.0.1:$P/metrics" >"$OUT/paired-base.metrics" || true
curl -sf "http://127.0.0.1:$((P + 2))/metrics" >"$OUT/paired-new.metrics" || true
$PY - "$RUNS" "$MODEL" "$DUR" "$ROUNDS" "$CONNS" "$SIZES" "$PROTOS" <<'PYEOF'
import sys
sys.path.insert(0, "bench")
from serve_runs import geomean_interval, load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "non200"))
print(f"model {sys.argv[2]}, both servers loaded at once, {sys.argv[5]} connections each, "
      f"{sys.argv[3]} per round, {sys.argv[4]} round(s)")
print("| protocol | images/request | base req/s | new req/s | new ÷ base: geometric mean [95 % interval] | per-round range | base p99 ms | new p99 ms | base CPU ms/req | new CPU ms/req | failed (base/new) |")
print("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|")
names = {"json": "KServe v2 JSON (wrk)", "grpc": "KServe v2 gRPC (h2load)", "v1": "TF Serving REST rows (wrk)"}
for proto in sys.argv[7].split():
    for n in map(int, sys.argv[6].split()):
        base, new = by[f"base-{proto}-{n}"], by[f"new-{proto}-{n}"]
        ratios = [w["rps"] / b["rps"] for b, w in zip(base, new)]
        mean, lo, hi = geomean_interval(ratios)
        b, w = med[f"base-{proto}-{n}"], med[f"new-{proto}-{n}"]
        fails = f"{sum(r['non200'] for r in base)}/{sum(r['non200'] for r in new)}"
        print(f"| {names[proto]} | {n} | {b['rps']:,.0f} | {w['rps']:,.0f} | **{mean:.3f}** "
              f"[{lo:.3f}, {hi:.3f}] | {min(ratios):.2f}–{max(ratios):.2f} | "
              f"{b['p99_ms']:.2f} | {w['p99_ms']:.2f} | {b['cpu_ms_per_req']:.3f} | {w['cpu_ms_per_req']:.3f} | {fails} |")
PYEOF
