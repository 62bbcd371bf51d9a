#!/usr/bin/env bash
# Serving (issue 5): `emnist serve` against a Flask + onnxruntime app (bench/flask_app.py, Flask's
# own threaded server), the same ONNX model, the same TF-Serving JSON request (one real
# Fashion-MNIST test image scaled to [0, 1]), the same load generator (wrk, loopback), side by side.
#
#   bash bench/serve_vs_flask.sh [MODEL] [ROUNDS] [DURATION]      (defaults: models/dnn.onnx 3 10s)
#
# Environment: EMNIST_BIN (use this binary instead of building one), CONNS (default 32),
# WRK_THREADS (2), FLASK_ORT_THREADS (onnxruntime intra-op threads in Flask, default 1),
# SERVE_ARGS (extra `emnist serve` flags), PORT_E / PORT_F (9311 / 9312).
# Each round runs wrk against emnist, then Flask (the order alternates between rounds), after a
# 2 s warm-up of each; the table shows medians over rounds. Every answer's status is counted
# (bench/wrk_post.lua): any non-200 is reported. Both servers are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/dnn.onnx}
ROUNDS=${2:-3}
DUR=${3:-10s}
export CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-2}
FLASK_ORT_THREADS=${FLASK_ORT_THREADS:-1}
PORT_E=${PORT_E:-9311}
PORT_F=${PORT_F:-9312}
. bench/serve_common.sh
bench_setup
BODY=$OUT/tfs_1.json
URL_E=http://127.0.0.1:$PORT_E/v1/models/emnist:predict
URL_F=http://127.0.0.1:$PORT_F/v1/models/emnist:predict
# shellcheck disable=SC2086
start_server E "$OUT/emnist-serve.log" "$EMNIST" serve --model "$MODEL" --port "$PORT_E" ${SERVE_ARGS:-}
start_server F "$OUT/flask.log" $PY bench/flask_app.py --model "$MODEL" --port "$PORT_F" --intra-op-threads "$FLASK_ORT_THREADS"
wait_http_200 "$URL_E" "$BODY" application/json
wait_http_200 "$URL_F" "$BODY" application/json
SPID_E=$(server_child "$PID_E")
SPID_F=$(server_child "$PID_F")

# The two answer the same request alike.
curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" "$URL_E" >"$OUT/answer-emnist.json"
curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" "$URL_F" >"$OUT/answer-flask.json"
$PY - "$OUT/answer-emnist.json" "$OUT/answer-flask.json" <<'PYEOF'
import json, sys
import numpy as np
a, b = (json.load(open(p))["predictions"][0] for p in sys.argv[1:3])
pa, pb = np.array(a["probabilities"]), np.array(b["probabilities"])
d = float(np.abs(pa - pb).max())
print(f"same request, both servers: argmax {pa.argmax()} vs {pb.argmax()}, max |p difference| {d:.2e}")
assert pa.argmax() == pb.argmax() and d < 1e-4, "the two servers disagree"
PYEOF

RUNS=$OUT/vs_flask.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
run_wrk emnist-warmup "$URL_E" "$BODY" application/json 2s "" "$SPID_E"
run_wrk flask-warmup "$URL_F" "$BODY" application/json 2s "" "$SPID_F"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="emnist flask"; else order="flask emnist"; fi
  for who in $order; do
    if [ "$who" = emnist ]; then
      run_wrk emnist "$URL_E" "$BODY" application/json "$DUR" "$RUNS" "$SPID_E"
    else
      run_wrk flask "$URL_F" "$BODY" application/json "$DUR" "$RUNS" "$SPID_F"
    fi
  done
done

# emnist serve must stop cleanly on SIGTERM.
kill -TERM "$SPID_E"
rc=0
wait "$PID_E" || rc=$?
echo "emnist serve after SIGTERM: exit status $rc; last log line: $(tail -1 "$OUT/emnist-serve.log")"

$PY - "$RUNS" "$MODEL" "$DUR" "$LOAD0" "$FLASK_ORT_THREADS" "$OUT/sizes.json" <<'PYEOF'
import json, statistics, sys
sys.path.insert(0, "bench")
from serve_runs import load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "mean_ms", "max_ms", "cpu_ms_per_req", "load1"))
tot = {k: {f: sum(x[f] for x in v) for f in ("requests", "ok_200", "non200", "err_connect", "err_read", "err_write", "err_timeout")} for k, v in by.items()}
body = json.load(open(sys.argv[6]))["tfs_1.json"]
print()
print(f"model {sys.argv[2]}, one image per request (TF-Serving JSON, {body} bytes), wrk -t2 -c32 -d{sys.argv[3]} --latency, "
      f"{len(by['emnist'])} round(s), medians; Flask: onnxruntime intra_op_num_threads={sys.argv[5]}; load average at start {sys.argv[4]}")
print(f"{'':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms/req':>10} {'requests':>9} {'non-200':>8} {'sock err':>8}")
for k in ("emnist", "flask"):
    m, t = med[k], tot[k]
    err = t["err_connect"] + t["err_read"] + t["err_write"] + t["err_timeout"]
    print(f"{k:8} {m['rps']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['max_ms']:8.1f} {m['cpu_ms_per_req']:10.3f} {t['requests']:9d} {t['non200']:8d} {err:8d}")
e, f = med["emnist"], med["flask"]
rr, pr = e["rps"] / f["rps"], f["p99_ms"] / e["p99_ms"]
print(f"emnist/Flask requests/s: {rr:.1f}x (goal >= 10x: {'met' if rr >= 10 else 'NOT met'}); "
      f"Flask p99 / emnist p99: {pr:.1f}x (goal >= 10x: {'met' if pr >= 10 else 'NOT met'}); p50 ratio {f['p50_ms'] / e['p50_ms']:.1f}x")
for k, v in by.items():
    print(f"  {k} per round: " + ", ".join(f"{x['rps']:.0f} req/s p99 {x['p99_ms']:.2f} ms (load {x['load1']})" for x in v))
bad = [x for v in by.values() for x in v if x["non200"] or x["first_non200"]]
for x in bad:
    print(f"  {x['label']}: {x['non200']} non-200 answers, first: {x['first_non200']}")
PYEOF
