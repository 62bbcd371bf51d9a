#!/usr/bin/env bash
# `emnist serve` side by side with the servers people would pick instead, in one run: NVIDIA
# Triton 2.51 (the server binary and Python backend of PyPI `nvidia-pytriton` 0.7.0, run by
# bench/peers/tritonserver: a Python-backend model running the ONNX file with onnxruntime,
# bench/peers/triton_model.py, `dynamic_batching`, `max_batch_size: 128`, one CPU instance; the
# model repository is written into the output folder by bench/peers/triton_repo.py), BentoML 1.4
# (a service with adaptive batching running the ONNX file with onnxruntime,
# bench/peers/bentoml_service.py), Seldon MLServer 1.7 (a custom runtime running the ONNX file with
# onnxruntime, bench/peers/mlserver_runtime.py, `parallel_workers: 0`), KServe's own Python model
# server (a custom Model with onnxruntime, bench/peers/kserve_server.py) and the Flask baseline
# (bench/flask_app.py).
# The same ONNX model, the same request bodies (bench/make_serve_bodies.py: real Fashion-MNIST test
# images; one image, and a batch of 128), the same load generators, loopback:
#   REST: wrk (HTTP/1.1 keep-alive, bench/wrk_post.lua), KServe v1 / TF-Serving JSON rows,
#         KServe v2 JSON (FP32 [n, 784], output `probabilities`), and BentoML's own JSON
#         (`{"images": [[784 floats], ...]}`, answered with the probabilities' rows);
#   gRPC: h2load (HTTP/2, one call in flight per connection) replaying one framed KServe v2
#         ModelInferRequest (FP32 [n, 784] in raw_input_contents, output `probabilities`).
# Every server gets each protocol it offers: emnist all three, KServe all three, Triton and
# MLServer v2 REST and gRPC (they have no v1), Flask v1 only, BentoML its own JSON only (it speaks
# no KServe protocol; its row is set against emnist's v1 rows, the nearest body).
#
#   bash bench/serve_vs_peers.sh [MODEL] [ROUNDS] [DURATION]      (defaults: models/dnn.onnx 3 10s)
#
# Needs `make bench-peers-setup` (the peers' virtual environments, h2load) and `make demo`'s models.
# Environment: EMNIST_BIN (use this binary instead of building one), CONNS (connections, default
# 32), WRK_THREADS (threads of wrk and h2load, 2), PEER_ORT_THREADS (onnxruntime intra-op threads
# in the five Python-run models, Triton's included, default 1, as in bench/serve_vs_flask.sh),
# SERVE_ARGS (extra `emnist serve` flags), SIZES (default "1 128"), PORT_BASE (9340: twelve ports
# from there).
# Each round runs every cell once (the order rotates between rounds) after a 2 s warm-up of each;
# the tables show medians over rounds, and each server's memory (the resident set of its process
# tree: Triton's Python-backend stub, BentoML's and MLServer's workers included). Every answer is
# checked: before timing, each server's answer to the very bodies the load generators replay
# agrees with emnist's (REST: argmax and |p| < 1e-4 for the older peers, 1e-5 for Triton and
# BentoML; gRPC: bench/peers/grpc_check.py); during the runs wrk counts non-200 statuses and
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
for v in mlserver kserve-server triton bentoml; do
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

# Triton's model repository and Python backend folder (its stub runs in .venv/triton's Python).
TRI=$OUT/triton
rm -rf "$TRI" && mkdir -p "$TRI"
.venv/triton/bin/python bench/peers/triton_repo.py "$MODEL" "$TRI/repo" "$TRI/backends" --intra-op-threads "$PEER_ORT_THREADS"

# shellcheck disable=SC2086
start_server E "$OUT/peers-emnist.log" "$EMNIST" serve --model "$MODEL" --port $((P + 1)) --grpc-port $((P + 2)) ${SERVE_ARGS:-}
start_server K "$OUT/peers-kserve.log" .venv/kserve-server/bin/python bench/peers/kserve_server.py --model "$MODEL" \
  --http-port $((P + 3)) --grpc-port $((P + 4)) --intra-op-threads "$PEER_ORT_THREADS"
start_server M "$OUT/peers-mlserver.log" env -C "$MLS" PYTHONPATH="$PWD/bench/peers" "$PWD/.venv/mlserver/bin/mlserver" start .
start_server F "$OUT/peers-flask.log" $PY bench/flask_app.py --model "$MODEL" --port $((P + 8)) --intra-op-threads "$PEER_ORT_THREADS"
start_server T "$OUT/peers-triton.log" bench/peers/tritonserver --model-repository "$TRI/repo" --backend-directory "$TRI/backends" \
  --http-address 127.0.0.1 --http-port $((P + 9)) --grpc-address 127.0.0.1 --grpc-port $((P + 10)) --allow-metrics false \
  --exit-timeout-secs 3
start_server B "$OUT/peers-bentoml.log" env BENTOML_HOME="$PWD/$OUT/bentoml" BENTOML_DO_NOT_TRACK=True EMNIST_ONNX="$MODEL_ABS" \
  PEER_ORT_THREADS="$PEER_ORT_THREADS" .venv/bentoml/bin/bentoml serve bentoml_service:Emnist --working-dir bench/peers \
  --host 127.0.0.1 --port $((P + 11))

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
  "triton-v2|T|wrk|http://127.0.0.1:$((P + 9))/v2/models/emnist/infer|kserve_fp32_@N@.json|application/json"
  "triton-grpc|T|h2load|http://127.0.0.1:$((P + 10))/inference.GRPCInferenceService/ModelInfer|grpc_@N@.bin|"
  "bentoml-own|B|wrk|http://127.0.0.1:$((P + 11))/predict|bentoml_@N@.json|application/json"
)
# A v1 request that every v1 server answers, a v2 one for MLServer and Triton, BentoML's own: each
# server is up (its log's end when not).
up() {  # LOG URL BODY [SECONDS]
  wait_http_200 "$2" "$3" application/json "${4:-60}" || { echo "== the end of $1:"; tail -n 20 "$1"; exit 1; }
}
up "$OUT/peers-emnist.log" "http://127.0.0.1:$((P + 1))/v1/models/emnist:predict" "$OUT/tfs_1.json"
up "$OUT/peers-kserve.log" "http://127.0.0.1:$((P + 3))/v1/models/emnist:predict" "$OUT/tfs_1.json" 120
up "$OUT/peers-mlserver.log" "http://127.0.0.1:$((P + 5))/v2/models/emnist/infer" "$OUT/kserve_fp32_1.json" 120
up "$OUT/peers-flask.log" "http://127.0.0.1:$((P + 8))/v1/models/emnist:predict" "$OUT/tfs_1.json"
up "$OUT/peers-triton.log" "http://127.0.0.1:$((P + 9))/v2/models/emnist/infer" "$OUT/kserve_fp32_1.json" 120
up "$OUT/peers-bentoml.log" "http://127.0.0.1:$((P + 11))/predict" "$OUT/bentoml_1.json" 120
SERVERS="E T B K M F"
for s in $SERVERS; do
  eval "SPID_$s=\$(server_child \"\$PID_$s\")"
done
# The resident memory of a server's process tree in MiB (now, and the sum of each process's peak).
rss_tree() {
  local now=0 peak=0 p kb hwm
  for p in $(descendants "$1") "$1"; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    now=$((now + ${kb:-0})) peak=$((peak + ${hwm:-0}))
  done
  echo "$((now / 1024)) $((peak / 1024)) $(($(descendants "$1" | wc -l) + 1))"
}
for s in $SERVERS; do
  eval "RSS0_$s=\$(rss_tree \"\$SPID_$s\")"
done

# Same bytes, same answers: every REST cell's answer agrees with emnist's (argmax, |p| < 1e-4; 1e-5
# for Triton and BentoML), and every gRPC server answers h2load's exact body with OK and the same
# probabilities (|p| < 1e-4; Triton's within 1e-5).
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
    if isinstance(a, list):  # BentoML: the rows themselves
        return np.array(a)
    if "predictions" in a:
        return np.array([p["probabilities"] for p in a["predictions"]])
    o = [o for o in a["outputs"] if o["name"] == "probabilities"][0]
    return np.array(o["data"]).reshape(o["shape"])
ref = probs("emnist-v1")
worst = {}
for label, tol in (("emnist-v2", 1e-4), ("kserve-v1", 1e-4), ("kserve-v2", 1e-4), ("mlserver-v2", 1e-4), ("flask-v1", 1e-4),
                   ("triton-v2", 1e-5), ("bentoml-own", 1e-5)):
    p = probs(label)
    d = worst[label] = float(np.abs(p - ref).max())
    assert p.shape == ref.shape and (p.argmax(1) == ref.argmax(1)).all() and d < tol, f"{label} disagrees with emnist: {d}"
print(f"{n} image(s) per request: every REST answer agrees with emnist's ([{ref.shape[0]}, {ref.shape[1]}]; max |p difference| "
      + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()) + ")")
PYEOF
  $PY bench/peers/grpc_check.py "$OUT/grpc_$n.bin" E=127.0.0.1:$((P + 2)) K=127.0.0.1:$((P + 4)) M=127.0.0.1:$((P + 6)) \
    T=127.0.0.1:$((P + 10)) >"$OUT/grpc-answers-$n.jsonl"
  $PY -c 'import json, sys
t = [x for x in map(json.loads, open(sys.argv[1])) if x["server"] == "T"][0]
assert t["max_abs_diff"] < 1e-5, f"triton-grpc disagrees with emnist: {t}"' "$OUT/grpc-answers-$n.jsonl"
  for s in E K M T; do
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
# Each server's memory: its process tree's resident set when first up and after the runs, the sum
# of each process's peak, and how many processes.
for s in $SERVERS; do
  eval "spid=\$SPID_$s rss0=\$RSS0_$s"
  printf '{"server":"%s","rss0":"%s","rss1":"%s"}\n' "$s" "$rss0" "$(rss_tree "$spid")"
done >"$OUT/peers-rss.jsonl"

$PY - "$RUNS" "$MODEL" "$DUR" "$LOAD0" "$OUT/sizes.json" "$CONNS" "$PEER_ORT_THREADS" "$OUT/peers-rss.jsonl" <<'PYEOF'
import json, statistics, sys
sys.path.insert(0, "bench")
from serve_runs import load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "max_ms", "cpu_ms_per_req"))
print()
print(f"model {sys.argv[2]}, {sys.argv[6]} connections, {sys.argv[3]} per cell, {len(next(iter(by.values())))} round(s), medians; "
      f"peers' onnxruntime intra_op_num_threads={sys.argv[7]}; load average at start {sys.argv[4]}")
names = {"v1": "REST, KServe v1 / TF-Serving JSON", "v2": "REST, KServe v2 JSON", "grpc": "gRPC, KServe v2 (raw_input_contents)",
         "own": "REST, the server's own JSON (BentoML: {\"images\": rows}; set against emnist's v1 rows)"}
# Goals (issue 26): against Triton, >= its requests/s, <= its p99 and CPU per request; against the
# Python servers, >= 10x the requests/s and <= 1/5 the p99.
goals = {"triton": (1, 1)}
verdicts = []
for n in sorted({int(k.rsplit("-", 1)[1]) for k in by}):
    print(f"\n{n} image(s) per request")
    print(f"{'':16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms/req':>10} {'requests':>9} {'not OK':>7}  emnist's req/s, p99 vs this")
    for proto in ("v1", "v2", "grpc", "own"):
        if not any(k.endswith(f"-{proto}-{n}") for k in by):
            continue
        print(f"  {names[proto]}")
        e = med.get(f"emnist-{'v1' if proto == 'own' else proto}-{n}")
        for who in ("emnist", "triton", "bentoml", "kserve", "mlserver", "flask"):
            k = f"{who}-{proto}-{n}"
            if k not in by:
                continue
            m = med[k]
            bad = sum(x["non200"] + x["err_timeout"] + x["err_read"] + x["err_connect"] + x["err_write"] for x in by[k])
            line = f"  {who:14} {m['rps']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['max_ms']:8.1f} {m['cpu_ms_per_req']:10.3f} {sum(x['requests'] for x in by[k]):9d} {bad:7d}"
            if who != "emnist" and e:
                want_r, want_p = goals.get(who, (10, 0.2))
                rr, pr = e["rps"] / m["rps"], e["p99_ms"] / m["p99_ms"]
                ok_r, ok_p, ok_c = rr >= want_r, pr <= want_p, True
                line += f"  {rr:6.1f}x ({'met' if ok_r else 'NOT met'}), p99 {pr:5.2f}x ({'met' if ok_p else 'NOT met'})"
                if who == "triton":
                    cr = e["cpu_ms_per_req"] / m["cpu_ms_per_req"]
                    ok_c = cr <= 1
                    line += f", CPU {cr:5.2f}x ({'met' if ok_c else 'NOT met'})"
                verdicts.append((k, ok_r, ok_p and ok_c))
            print(line)
print(f"\n{'memory, MiB (process tree)':28} {'RSS when up':>11} {'after runs':>10} {'peaks summed':>12} {'processes':>9}")
who = dict(E="emnist", T="triton", B="bentoml", K="kserve", M="mlserver", F="flask")
for x in map(json.loads, open(sys.argv[8])):
    r0 = int(x["rss0"].split()[0])
    r1, p1, procs = map(int, x["rss1"].split())
    print(f"  {who[x['server']]:26} {r0:11d} {r1:10d} {p1:12d} {procs:9d}")
met = sum(1 for _, a, b in verdicts if a and b)
print(f"\ngoal (against Triton: >= its requests/s, <= its p99 and CPU per request; against the Python servers: >= 10x "
      f"requests/s and <= 1/5 p99; each protocol, each size): met in {met} of {len(verdicts)} comparisons")
for k, v in by.items():
    print(f"  {k} per round: " + ", ".join(f"{x['rps']:.0f} req/s p99 {x['p99_ms']:.2f} ms (load {x['load1']})" for x in v))
for x in runs:
    if x["non200"] or x["err_timeout"] or x["err_read"]:
        print(f"  {x['label']}: {x['non200']} not OK, {x['err_timeout']} timeouts, {x['err_read']} read errors; first: {x['first_non200']}")
PYEOF
