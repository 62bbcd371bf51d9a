#!/usr/bin/env bash
# `emnist serve` side by side with the servers people would pick instead, in one run: Seldon
# MLServer 1.7 (a custom runtime running the ONNX file with onnxruntime, bench/peers/
# mlserver_runtime.py, `parallel_workers: 0`), KServe's own Python model server (a custom Model
# with onnxruntime, bench/peers/kserve_server.py) and the Flask baseline (bench/flask_app.py).
# The same ONNX model, the same request bodies (bench/make_serve_bodies.py: real Fashion-MNIST test
# images; one image, and a batch of 128), the same load generators, loopback:
#   REST: wrk (HTTP/1.1 keep-alive, bench/wrk_post.lua), KServe v1 / TF-Serving JSON rows and
#         KServe v2 JSON (FP32 [n, 784], output `probabilities`);
#   gRPC: h2load (HTTP/2, one call in flight per connection) replaying one framed KServe v2
#         ModelInferRequest (FP32 [n, 784] in raw_input_contents, output `probabilities`).
# Every server gets each protocol it offers: emnist all three, KServe all three, MLServer v2 REST
# and gRPC (it has no v1), Flask v1 only.
#
#   bash bench/serve_vs_peers.sh [MODEL] [ROUNDS] [DURATION]      (defaults: models/dnn.onnx 3 10s)
#
# Needs `make bench-peers-setup` (the peers' virtual environments, h2load) and `make demo`'s models.
# Environment: EMNIST_BIN (use this binary instead of building one), CONNS (connections, default
# 32), WRK_THREADS (threads of wrk and h2load, 2), PEER_ORT_THREADS (onnxruntime intra-op threads
# in the three Python peers, default 1, as in bench/serve_vs_flask.sh), SERVE_ARGS (extra
# `emnist serve` flags), SIZES (default "1 128"), PORT_BASE (9340: ten ports from there).
# Each round runs every cell once (the order rotates between rounds) after a 2 s warm-up of each;
# the tables show medians over rounds. Every answer is checked: wrk counts non-200 statuses,
# h2load's gRPC answers are counted by their data (an error has none). Servers stop on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/dnn.onnx}
ROUNDS=${2:-3}
DUR=${3:-10s}
export CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-2}
PEER_ORT_THREADS=${PEER_ORT_THREADS:-1}
SIZES=${SIZES:-1 128}
P=${PORT_BASE:-9340}
for v in mlserver kserve-server; do
  [ -x ".venv/$v/bin/python" ] || { echo "needs .venv/$v: run make bench-peers-setup"; exit 1; }
done
command -v h2load >/dev/null || { echo "needs h2load (Debian nghttp2-client): run make bench-peers-setup"; exit 1; }
. bench/serve_common.sh
bench_setup
export SERVER_LIFETIME=$((3600 + ROUNDS * 60 * ${DUR%s}))
MODEL_ABS=$(realpath "$MODEL")

# MLServer reads its settings from files in the folder it starts in.
MLS=$OUT/mlserver
rm -rf "$MLS" && mkdir -p "$MLS/emnist"
printf '{"http_port": %d, "grpc_port": %d, "metrics_port": %d, "parallel_workers": 0, "debug": false}\n' \
  $((P + 5)) $((P + 6)) $((P + 7)) >"$MLS/settings.json"
printf '{"name": "emnist", "implementation": "mlserver_runtime.OnnxRuntime", "parameters": {"uri": "%s", "extra": {"intra_op_threads": %d}}}\n' \
  "$MODEL_ABS" "$PEER_ORT_THREADS" >"$MLS/emnist/model-settings.json"

# shellcheck disable=SC2086
start_server E "$OUT/peers-emnist.log" "$EMNIST" serve --model "$MODEL" --port $((P + 1)) --grpc-port $((P + 2)) ${SERVE_ARGS:-}
start_server K "$OUT/peers-kserve.log" .venv/kserve-server/bin/python bench/peers/kserve_server.py --model "$MODEL" \
  --http-port $((P + 3)) --grpc-port $((P + 4)) --intra-op-threads "$PEER_ORT_THREADS"
start_server M "$OUT/peers-mlserver.log" env -C "$MLS" PYTHONPATH="$PWD/bench/peers" "$PWD/.venv/mlserver/bin/mlserver" start .
start_server F "$OUT/peers-flask.log" $PY bench/flask_app.py --model "$MODEL" --port $((P + 8)) --intra-op-threads "$PEER_ORT_THREADS"

# label | server | kind | URL | body (per size: @N@) | content type
CELLS=(
  "emnist-v1|E|wrk|http://127.0.0.1:$((P + 1))/v1/models/emnist:predict|tfs_@N@.json|application/json"
  "emnist-v2|E|wrk|http://127.0.0.1:$((P + 1))/v2/models/emnist/infer|kserve_fp32_@N@.json|application/json"
  "emnist-grpc|E|h2load|http://127.0.0.1:$((P + 2))/inference.GRPCInferenceService/ModelInfer|grpc_@N@.bin|"
  "kserve-v1|K|wrk|http://127.0.0.1:$((P + 3))/v1/models/emnist:predict|tfs_@N@.json|application/json"
  "kserve-v2|K|wrk|http://127.0.0.1:$((P + 3))/v2/models/emnist/infer|kserve_fp32_@N@.json|application/json"
  "kserve-grpc|K|h2load|http://127.0.0.1:$((P + 4))/inference.GRPCInferenceService/ModelInfer|grpc_@N@.bin|"
  "mlserver-v2|M|wrk|http://127.0.0.1:$((P + 5))/v2/models/emnist/infer|kserve_fp32_@N@.json|application/json"
  "mlserver-grpc|M|h2load|http://127.0.0.1:$((P + 6))/inference.GRPCInferenceService/ModelInfer|grpc_@N@.bin|"
  "flask-v1|F|wrk|http://127.0.0.1:$((P + 8))/v1/models/emnist:predict|tfs_@N@.json|application/json"
)
# A v1 request that every v1 server answers, and a v2 one for MLServer: each server is up.
wait_http_200 "http://127.0.0.1:$((P + 1))/v1/models/emnist:predict" "$OUT/tfs_1.json" application/json
wait_http_200 "http://127.0.0.1:$((P + 3))/v1/models/emnist:predict" "$OUT/tfs_1.json" application/json 120
wait_http_200 "http://127.0.0.1:$((P + 5))/v2/models/emnist/infer" "$OUT/kserve_fp32_1.json" application/json 120
wait_http_200 "http://127.0.0.1:$((P + 8))/v1/models/emnist:predict" "$OUT/tfs_1.json" application/json
for s in E K M F; do
  eval "SPID_$s=\$(server_child \"\$PID_$s\")"
done

# Same bytes, same answers: every REST cell's answer agrees with emnist's (argmax, |p| < 1e-4), and
# every gRPC server answers h2load's exact body with OK and the same probabilities.
for n in $SIZES; do
  for c in "${CELLS[@]}"; do
    IFS='|' read -r label _ kind url body ct <<<"$c"
    [ "$kind" = wrk ] || continue
    body=$OUT/${body//@N@/$n}
    code=$(curl -s -o "$OUT/answer-$label-$n.json" -w '%{http_code}' -X POST -H "Content-Type: $ct" --data-binary "@$body" "$url")
    [ "$code" = 200 ] || { echo "$label ($n): status $code: $(head -c 300 "$OUT/answer-$label-$n.json")"; exit 1; }
  done
  $PY - "$OUT" "$n" <<'PYEOF'
import json, sys
import numpy as np
out, n = sys.argv[1], sys.argv[2]
def probs(label):
    a = json.load(open(f"{out}/answer-{label}-{n}.json"))
    if "predictions" in a:
        return np.array([p["probabilities"] for p in a["predictions"]])
    o = [o for o in a["outputs"] if o["name"] == "probabilities"][0]
    return np.array(o["data"]).reshape(o["shape"])
ref = probs("emnist-v1")
for label in ("emnist-v2", "kserve-v1", "kserve-v2", "mlserver-v2", "flask-v1"):
    p = probs(label)
    d = float(np.abs(p - ref).max())
    assert p.shape == ref.shape and (p.argmax(1) == ref.argmax(1)).all() and d < 1e-4, f"{label} disagrees with emnist: {d}"
print(f"{n} image(s) per request: every REST answer agrees with emnist's ([{ref.shape[0]}, {ref.shape[1]}], max |p difference| below 1e-4)")
PYEOF
  $PY bench/peers/grpc_check.py "$OUT/grpc_$n.bin" E=127.0.0.1:$((P + 2)) K=127.0.0.1:$((P + 4)) M=127.0.0.1:$((P + 6)) >"$OUT/grpc-answers-$n.jsonl"
  for s in E K M; do
    eval "ANSWER_${s}_$n=$(grep "\"server\": \"$s\"" "$OUT/grpc-answers-$n.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["answer_bytes"])')"
  done
  echo "$n image(s) per request: every gRPC answer agrees with emnist's"
done

RUNS=$OUT/peers.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# run_cell CELL N RESULT_FILE DURATION
run_cell() {
  local label server kind url body ct spid
  IFS='|' read -r label server kind url body ct <<<"$1"
  body=$OUT/${body//@N@/$2}
  eval "spid=\$SPID_$server"
  if [ "$kind" = wrk ]; then
    run_wrk "$label-$2" "$url" "$body" "$ct" "$4" "$3" "$spid"
  else
    local answer
    eval "answer=\$ANSWER_${server}_$2"
    run_h2load "$label-$2" "$url" "$body" "$4" "$3" "$spid" "$answer"
  fi
}
for n in $SIZES; do
  for c in "${CELLS[@]}"; do run_cell "$c" "$n" "" 2s; done
done
ALL=()
for n in $SIZES; do for c in "${CELLS[@]}"; do ALL+=("$n#$c"); done; done
for r in $(seq "$ROUNDS"); do
  k=${#ALL[@]}
  for i in $(seq 0 $((k - 1))); do
    item=${ALL[$(((i + (r - 1) * 7) % k))]}
    run_cell "${item#*#}" "${item%%#*}" "$RUNS" "$DUR"
  done
done

$PY - "$RUNS" "$MODEL" "$DUR" "$LOAD0" "$OUT/sizes.json" "$CONNS" "$PEER_ORT_THREADS" <<'PYEOF'
import json, statistics, sys
sys.path.insert(0, "bench")
from serve_runs import load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "max_ms", "cpu_ms_per_req"))
print()
print(f"model {sys.argv[2]}, {sys.argv[6]} connections, {sys.argv[3]} per cell, {len(next(iter(by.values())))} round(s), medians; "
      f"peers' onnxruntime intra_op_num_threads={sys.argv[7]}; load average at start {sys.argv[4]}")
names = {"v1": "REST, KServe v1 / TF-Serving JSON", "v2": "REST, KServe v2 JSON", "grpc": "gRPC, KServe v2 (raw_input_contents)"}
verdicts = []
for n in sorted({int(k.rsplit("-", 1)[1]) for k in by}):
    print(f"\n{n} image(s) per request")
    print(f"{'':16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms/req':>10} {'requests':>9} {'not OK':>7}  emnist's req/s, p99 vs this")
    for proto in ("v1", "v2", "grpc"):
        print(f"  {names[proto]}")
        e = med.get(f"emnist-{proto}-{n}")
        for who in ("emnist", "kserve", "mlserver", "flask"):
            k = f"{who}-{proto}-{n}"
            if k not in by:
                continue
            m = med[k]
            bad = sum(x["non200"] + x["err_timeout"] + x["err_read"] + x["err_connect"] + x["err_write"] for x in by[k])
            line = f"  {who:14} {m['rps']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['max_ms']:8.1f} {m['cpu_ms_per_req']:10.3f} {sum(x['requests'] for x in by[k]):9d} {bad:7d}"
            if who != "emnist" and e:
                rr, pr = e["rps"] / m["rps"], e["p99_ms"] / m["p99_ms"]
                ok_r, ok_p = rr >= 10, pr <= 0.2
                line += f"  {rr:6.1f}x ({'met' if ok_r else 'NOT met'}), p99 {pr:5.2f}x ({'met' if ok_p else 'NOT met'})"
                verdicts.append((k, ok_r, ok_p))
            print(line)
met = sum(1 for _, a, b in verdicts if a and b)
print(f"\ngoal (>= 10x requests/s and <= 1/5 p99 against each peer, each protocol, each size): met in {met} of {len(verdicts)} comparisons")
for k, v in by.items():
    print(f"  {k} per round: " + ", ".join(f"{x['rps']:.0f} req/s p99 {x['p99_ms']:.2f} ms (load {x['load1']})" for x in v))
for x in runs:
    if x["non200"] or x["err_timeout"] or x["err_read"]:
        print(f"  {x['label']}: {x['non200']} not OK, {x['err_timeout']} timeouts, {x['err_read']} read errors; first: {x['first_non200']}")
PYEOF
