#!/usr/bin/env bash
# The serving image against the bare binary it carries, side by side in one run: the same model,
# the same bodies, the same load on each in turn (rounds alternate which goes first). The
# container runs as users run it (`podman run --runtime runc --read-only`, host networking, the
# image's own user and library); the bare binary is the same release build, onnxruntime beside it.
# Cells: KServe v2 JSON (wrk) and gRPC (h2load), one image and 128 per request. Also: start-up to
# the first 200 on /v2/health/ready (median of START_RUNS starts each), idle RSS, image size.
#
#   bash bench/image_vs_bare.sh [IMAGE] [ROUNDS] [DURATION]   (defaults: emnist-serve:latest 3 10s)
#
# Needs `make image` (its model is what both serve: the bare binary is given the same file,
# copied out of the image), wrk and h2load (`make bench-peers-setup`). Environment: CONNS (32),
# START_RUNS (5), P (first port, 9460), RUN_OPTS (extra `podman run` options, e.g.
# "--security-opt seccomp=unconfined" to see what the default seccomp filter costs).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-emnist-serve:latest}
ROUNDS=${2:-3}
DUR=${3:-10s}
P=${P:-9460}
START_RUNS=${START_RUNS:-5}
export CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-2}
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
WORK=bench/out/image
mkdir -p "$WORK"
# The model and binary the image holds, copied out, so both sides serve the very same files.
CID=$("${PODMAN[@]}" create "$IMAGE")
"${PODMAN[@]}" cp "$CID:/models/model.onnx" "$WORK/model.onnx"
rm -rf "$WORK/bin" && mkdir -p "$WORK/bin"
"${PODMAN[@]}" cp "$CID:/usr/local/bin/." "$WORK/bin/"
"${PODMAN[@]}" rm "$CID" >/dev/null
MODEL=$WORK/model.onnx
EMNIST_BIN=$WORK/bin/emnist
. bench/serve_common.sh
bench_setup
command -v h2load >/dev/null || { echo "needs h2load (Debian nghttp2-client): run make bench-peers-setup"; exit 1; }
ARGS=(--model "$MODEL" --host 127.0.0.1 --max-connections 448)
# The container is started by podman; stop_servers' SIGTERM to `podman run` stops it too.
cleanup() { "${PODMAN[@]}" rm -f emnist-bench >/dev/null 2>&1 || true; stop_servers; }
trap cleanup EXIT
start_server B "$OUT/image-bare.log" "$EMNIST_BIN" serve "${ARGS[@]}" --port "$P" --grpc-port $((P + 1))
read -ra EXTRA <<<"${RUN_OPTS:-}"
start_server C "$OUT/image-container.log" "${PODMAN[@]}" run --rm --name emnist-bench --read-only "${LIMITS[@]}" ${EXTRA[@]+"${EXTRA[@]}"} \
  --network host "$IMAGE" --model /models/model.onnx --host 127.0.0.1 --max-connections 448 \
  --port $((P + 2)) --grpc-port $((P + 3))
for port in "$P" $((P + 2)); do
  wait_http_200 "http://127.0.0.1:$port/v2/models/emnist/infer" "$OUT/kserve_fp32_1.json" application/json
done
SPID_B=$(server_child "$PID_B")
SPID_C=$("${PODMAN[@]}" inspect emnist-bench --format '{{.State.Pid}}')
sleep 2
IDLE_B=$(awk '/^VmRSS/ {print $2}' "/proc/$SPID_B/status")
IDLE_C=$(awk '/^VmRSS/ {print $2}' "/proc/$SPID_C/status")
ENGINE_B=$(curl -s "http://127.0.0.1:$P/v2/models/emnist" | $PY -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["engine"])')
ENGINE_C=$(curl -s "http://127.0.0.1:$((P + 2))/v2/models/emnist" | $PY -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["engine"])')
for n in 1 128; do
  $PY bench/peers/grpc_check.py "$OUT/grpc_$n.bin" B=127.0.0.1:$((P + 1)) C=127.0.0.1:$((P + 3)) >"$OUT/image-answers-$n.jsonl"
  eval "ANSWER_$n=$(grep '"server": "C"' "$OUT/image-answers-$n.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["answer_bytes"])')"
done
RUNS=$OUT/image.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
cell() {
  local who=$1 proto=$2 n=$3 result=$4 dur=$5 http grpc spid answer
  if [ "$who" = bare ]; then http=$P grpc=$((P + 1)) spid=$SPID_B; else http=$((P + 2)) grpc=$((P + 3)) spid=$SPID_C; fi
  if [ "$proto" = json ]; then
    run_wrk "$who-json-$n" "http://127.0.0.1:$http/v2/models/emnist/infer" "$OUT/kserve_fp32_$n.json" application/json "$dur" "$result" "$spid"
  else
    eval "answer=\$ANSWER_$n"
    run_h2load "$who-grpc-$n" "http://127.0.0.1:$grpc/inference.GRPCInferenceService/ModelInfer" "$OUT/grpc_$n.bin" "$dur" "$result" "$spid" "$answer"
  fi
}
for proto in json grpc; do for n in 1 128; do for who in bare container; do cell "$who" "$proto" "$n" "" 2s; done; done; done
for r in $(seq "$ROUNDS"); do
  for proto in json grpc; do
    for n in 1 128; do
      if [ $((r % 2)) = 1 ]; then order="bare container"; else order="container bare"; fi
      for who in $order; do cell "$who" "$proto" "$n" "$RUNS" "$DUR"; done
    done
  done
done
cleanup
trap - EXIT

# Start-up to ready: the whole process (or `podman run`) from launch to the first 200 on
# /v2/health/ready, alternating.
: >"$WORK/startup.txt"
ready_ms() {
  local port=$1 t0
  t0=$(date +%s%N)
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/health/ready" || true)" = 200 ]; do
    sleep 0.005
  done
  echo $((($(date +%s%N) - t0) / 1000000))
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
for i in $(seq "$START_RUNS"); do
  echo "bare $(ready_ms $((P + 4)) "$EMNIST_BIN" serve "${ARGS[@]}" --port $((P + 4)))" >>"$WORK/startup.txt"
  echo "container $(ready_ms $((P + 5)) "${PODMAN[@]}" run --rm --name emnist-start --read-only "${LIMITS[@]}" \
    --network host "$IMAGE" --model /models/model.onnx --host 127.0.0.1 --port $((P + 5)))" >>"$WORK/startup.txt"
  "${PODMAN[@]}" rm -f emnist-start >/dev/null 2>&1 || true
done
SIZE=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Size}}')

$PY - "$RUNS" "$DUR" "$ROUNDS" "$CONNS" "$WORK/startup.txt" "$IDLE_B" "$IDLE_C" "$SIZE" "$ENGINE_B" "$ENGINE_C" "$IMAGE" <<'PYEOF'
import statistics, sys
sys.path.insert(0, "bench")
from serve_runs import load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req"))
print(f"image {sys.argv[11]} ({int(sys.argv[8]) / 1e6:.0f} MB), engines: bare {sys.argv[9]}, container {sys.argv[10]}; "
      f"{sys.argv[4]} connections, {sys.argv[2]} per cell, {sys.argv[3]} round(s), medians")
print("| protocol | images/request | bare req/s | container req/s | container ÷ bare | bare p99 ms | container p99 ms | bare CPU ms/req | container CPU ms/req | failed (bare/container) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for proto, name in (("json", "KServe v2 JSON (wrk)"), ("grpc", "KServe v2 gRPC (h2load)")):
    for n in (1, 128):
        b, c = med[f"bare-{proto}-{n}"], med[f"container-{proto}-{n}"]
        fails = f"{sum(r['non200'] for r in by[f'bare-{proto}-{n}'])}/{sum(r['non200'] for r in by[f'container-{proto}-{n}'])}"
        print(f"| {name} | {n} | {b['rps']:,.0f} | {c['rps']:,.0f} | {c['rps'] / b['rps']:.3f} | {b['p99_ms']:.2f} | "
              f"{c['p99_ms']:.2f} | {b['cpu_ms_per_req']:.3f} | {c['cpu_ms_per_req']:.3f} | {fails} |")
starts = {}
for line in open(sys.argv[5]):
    who, ms = line.split()
    starts.setdefault(who, []).append(int(ms))
print(f"start-up to ready (median of {len(starts['bare'])}): bare {statistics.median(starts['bare'])} ms, "
      f"container (podman run) {statistics.median(starts['container'])} ms")
print(f"idle RSS: bare {int(sys.argv[6]) / 1024:.0f} MiB, container {int(sys.argv[7]) / 1024:.0f} MiB")
PYEOF
