#!/usr/bin/env bash
# What every command costs (issue 11), measured on the commands users type, whole process, side by
# side with a baseline in the same run (bench/measure.py: wall, CPU seconds, peak RSS per process).
#
#   make bench-costs           (or: bash bench/costs.sh [ROUNDS])     default ROUNDS 5
#
# 1. start-up: `emnist --help`, `emnist explore --help` vs `emnist-train --help` (the libtorch-linked
#    executable: what every `emnist` command paid before the split), 20 × ROUNDS runs each;
# 2. serving: `emnist serve` with the demo DNN (models/dnn.onnx; `make demo` makes it) idle, after
#    20 s of wrk, vs the Flask + onnxruntime app of bench/serve_vs_flask.sh idle and after the same load;
# 3. first load: `emnist explore --data F` on the full-size byclass-shaped .mat with an empty cache
#    folder, `--no-cache`, and cached, vs `scipy.io.loadmat` + upright reshape (bench/load_scipy.py
#    --no-check), ROUNDS runs each, alternating.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
PY=.venv/bin/python
EMNIST=${EMNIST_BIN:-target/release/emnist}
TRAINER=$(dirname "$EMNIST")/emnist-train
MODEL=${MODEL:-models/dnn.onnx}
FILE=bench/out/emnist-byclass-bench.mat
OUT=bench/out/costs
mkdir -p "$OUT"
[ -n "${EMNIST_BIN:-}" ] || cargo build -q --release --workspace
[ -f "$FILE" ] || $PY bench/make_bench_mat.py "$FILE"
[ -f "$MODEL" ] || { echo "needs $MODEL: run make demo first"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
M() { $PY bench/measure.py "$@"; }
: >"$OUT/results.jsonl"

echo "== 1. start-up" >&2
for _ in $(seq "$ROUNDS"); do
  M 20 "emnist --help" -- "$EMNIST" --help >>"$OUT/results.jsonl"
  M 20 "emnist explore --help" -- "$EMNIST" explore --help >>"$OUT/results.jsonl"
  M 20 "emnist-train --help (libtorch linked)" -- "$TRAINER" --help >>"$OUT/results.jsonl"
done

echo "== 2. serving" >&2
. bench/serve_common.sh
trap stop_servers EXIT
trap 'exit 130' INT TERM
$PY bench/make_serve_bodies.py bench/out/serve >/dev/null
BODY=bench/out/serve/tfs_1.json
rss() { awk '/^VmRSS/ {print $2 / 1024}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2 / 1024}' "/proc/$1/status"; }
PORT_E=${PORT_E:-9321}
PORT_F=${PORT_F:-9322}
start_server E "$OUT/serve.log" "$EMNIST" serve --model "$MODEL" --port "$PORT_E"
start_server F "$OUT/flask.log" $PY bench/flask_app.py --model "$MODEL" --port "$PORT_F" --intra-op-threads 1
URL_E=http://127.0.0.1:$PORT_E/v1/models/emnist:predict
URL_F=http://127.0.0.1:$PORT_F/v1/models/emnist:predict
wait_http_200 "$URL_E" "$BODY" application/json
wait_http_200 "$URL_F" "$BODY" application/json
sleep 2
SPID_E=$(server_child "$PID_E")
SPID_F=$(server_child "$PID_F")
idle_e=$(rss "$SPID_E")
idle_f=$(rss "$SPID_F")
run_wrk costs-emnist "$URL_E" "$BODY" application/json 20s "" "$SPID_E"
run_wrk costs-flask "$URL_F" "$BODY" application/json 20s "" "$SPID_F"
sleep 1
printf '{"label":"emnist serve","idle_rss_mib":%s,"after_load_rss_mib":%s,"peak_rss_mib":%s,"wrk":"%s"}\n' \
  "$idle_e" "$(rss "$SPID_E")" "$(hwm "$SPID_E")" "$(grep -m1 'Requests/sec' "$OUT/wrk-costs-emnist.txt" | awk '{print $2}')" >>"$OUT/results.jsonl"
printf '{"label":"flask + onnxruntime","idle_rss_mib":%s,"after_load_rss_mib":%s,"peak_rss_mib":%s,"wrk":"%s"}\n' \
  "$idle_f" "$(rss "$SPID_F")" "$(hwm "$SPID_F")" "$(grep -m1 'Requests/sec' "$OUT/wrk-costs-flask.txt" | awk '{print $2}')" >>"$OUT/results.jsonl"
stop_servers

echo "== 3. first load" >&2
CACHE=$OUT/cache
for _ in $(seq "$ROUNDS"); do
  SETUP_EACH="rm -rf $CACHE" EMNIST_CACHE_DIR=$CACHE M 1 "emnist explore, empty cache" -- "$EMNIST" -q explore --data "$FILE" >>"$OUT/results.jsonl"
  EMNIST_CACHE_DIR=$CACHE M 1 "emnist explore, cached" -- "$EMNIST" -q explore --data "$FILE" >>"$OUT/results.jsonl"
  M 1 "emnist explore --no-cache" -- "$EMNIST" -q explore --no-cache --data "$FILE" >>"$OUT/results.jsonl"
  M 1 "scipy.io.loadmat + upright reshape" -- $PY bench/load_scipy.py "$FILE" --no-check >>"$OUT/results.jsonl"
done
rm -rf "$CACHE"

$PY - "$OUT/results.jsonl" <<'PYEOF'
import json, statistics, sys
from collections import defaultdict
rows = [json.loads(l) for l in open(sys.argv[1])]
by = defaultdict(list)
for r in rows:
    by[r["label"]].append(r)
decoded = (697932 + 116323) * 785 / 2**20  # MiB of images + labels
print(f"{'command':<40} {'wall s (median)':>15} {'CPU s':>8} {'peak RSS MiB':>13}")
for label, rs in by.items():
    if "wall_s_median" not in rs[0]:
        continue
    wall = statistics.median(r["wall_s_median"] for r in rs)
    cpu = statistics.median(r["cpu_s_median"] for r in rs)
    peak = max(r["peak_rss_mib"] for r in rs)
    print(f"{label:<40} {wall:>15.4f} {cpu:>8.3f} {peak:>13.1f}")
print()
for label, rs in by.items():
    if "idle_rss_mib" in rs[0]:
        r = rs[0]
        print(f"{label:<22} idle {float(r['idle_rss_mib']):.1f} MiB, after 20 s of wrk {float(r['after_load_rss_mib']):.1f} MiB (peak {float(r['peak_rss_mib']):.1f}), {r['wrk']} req/s")
med = lambda l: statistics.median(r["wall_s_median"] for r in by[l])
first, scipy = med("emnist explore, empty cache"), med("scipy.io.loadmat + upright reshape")
print(f"\nfirst explore vs scipy: {scipy / first:.2f}x (goal >= 2x); decoded bytes {decoded:.0f} MiB; "
      f"first-explore peak RSS {max(r['peak_rss_mib'] for r in by['emnist explore, empty cache']) / decoded:.2f}x decoded (goal <= 1.2x)")
PYEOF
