# Shared by bench/serve_vs_flask.sh and bench/serve_protocols.sh (sourced, not run).
# Servers are started under `timeout` so that nothing outlives the benchmark even if the trap
# does not run; `stop_servers` (the EXIT trap) sends SIGTERM, then SIGKILL to what is left.

SERVER_PIDS=()

# start_server NAME LOGFILE CMD... : starts CMD in the background (bounded by SERVER_LIFETIME s).
start_server() {
  local name=$1 log=$2
  shift 2
  timeout --signal=TERM --kill-after=5 "${SERVER_LIFETIME:-900}" "$@" >"$log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  eval "PID_$name=$pid"
}

# The server process itself (the child of `timeout`), for CPU accounting.
server_child() {
  local child
  child=$(ps -o pid= --ppid "$1" | head -1 | tr -d ' ')
  echo "${child:-$1}"
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  # Fields after the command: state is 1st, utime 12th, stime 13th.
  set -- $stat
  echo "$(( ${12} + ${13} )) $(getconf CLK_TCK)" | awk '{printf "%.3f", $1 / $2}'
}

stop_servers() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${SERVER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for p in "${SERVER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

# wait_http_200 URL BODY_FILE CONTENT_TYPE [SECONDS]: POSTs until the answer is 200.
wait_http_200() {
  local url=$1 body=$2 ct=$3 limit=${4:-60} code
  for _ in $(seq $((limit * 5))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST -H "Content-Type: $ct" --data-binary "@$body" "$url" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  echo "no 200 from $url after ${limit}s (last status: $code)" >&2
  return 1
}

# run_wrk LABEL URL BODY_FILE CONTENT_TYPE DURATION RESULT_FILE SERVER_PID [EXTRA_HEADER]
# RESULT_FILE empty: a warm-up whose figures are not kept. Otherwise wrk's result line goes
# there, and the server's CPU seconds during the run and the 1-minute load average after it go
# to RESULT_FILE.cpu (one JSON line each, same order). wrk's own report: $OUT/wrk-LABEL.txt.
run_wrk() {
  local label=$1 url=$2 body=$3 ct=$4 dur=$5 result=$6 spid=$7 extra=${8:-}
  local secs=${dur%s} cpu0 cpu1
  cpu0=$(cpu_tree_seconds "$spid")
  LABEL=$label BODY_FILE=$body CONTENT_TYPE=$ct RESULT_FILE=$result EXTRA_HEADER=$extra \
    timeout $((secs + 30)) wrk -t"${WRK_THREADS:-2}" -c"${CONNS:-32}" -d"$dur" --timeout 10s --latency \
    -s bench/wrk_post.lua "$url" >"$OUT/wrk-$label.txt" 2>&1 \
    || { echo "wrk failed for $label:"; cat "$OUT/wrk-$label.txt"; return 1; }
  cpu1=$(cpu_tree_seconds "$spid")
  if [ -n "$result" ]; then
    printf '{"label":"%s","server_cpu_s":%s,"load1":%s}\n' "$label" \
      "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.3f", b - a}')" "$(cut -d' ' -f1 /proc/loadavg)" >>"$result.cpu"
  fi
}

# The preamble both serving benchmarks share: checks, the binary, the request bodies, cleanup.
# Sets PY, EMNIST and OUT; needs MODEL.
bench_setup() {
  PY=.venv/bin/python
  [ -f "$MODEL" ] || { echo "needs $MODEL (emnist export --onnx)"; exit 1; }
  command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
  EMNIST=${EMNIST_BIN:-./target/release/emnist}
  [ -n "${EMNIST_BIN:-}" ] || cargo build -q --release -p emnist
  OUT=bench/out/serve
  mkdir -p "$OUT"
  trap stop_servers EXIT
  trap 'exit 130' INT TERM
  $PY bench/make_serve_bodies.py "$OUT" >/dev/null
}

# CPU seconds (user + system) of a process and all its descendants alive now.
cpu_tree_seconds() {
  local total=0 p
  for p in $(descendants "$1") "$1"; do
    total=$(awk -v a="$total" -v b="$(cpu_seconds "$p")" 'BEGIN{printf "%.3f", a + b}')
  done
  echo "$total"
}
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1"); do
    echo "$c"
    descendants "$c"
  done
}

# run_h2load LABEL URL BODY_FILE DURATION RESULT_FILE SERVER_PID ANSWER_BYTES: gRPC unary calls
# replayed by h2load (HTTP/2, CONNS connections, one call in flight on each, like wrk's HTTP/1.1
# keep-alive connections), the figures as bench/wrk_post.lua's JSON line (bench/h2load_result.py).
# RESULT_FILE empty: a warm-up whose figures are not kept. h2load's report: $OUT/h2load-LABEL.txt.
run_h2load() {
  local label=$1 url=$2 body=$3 dur=$4 result=$5 spid=$6 answer=$7
  local secs=${dur%s} cpu0 cpu1 log=$OUT/h2load-$label.log
  : >"$log"
  cpu0=$(cpu_tree_seconds "$spid")
  timeout $((secs + 30)) h2load -c"${CONNS:-32}" -t"${WRK_THREADS:-2}" -m1 -D "$secs" -d "$body" \
    -H 'content-type: application/grpc' -H 'te: trailers' --log-file "$log" "$url" >"$OUT/h2load-$label.txt" 2>&1 \
    || { echo "h2load failed for $label:"; cat "$OUT/h2load-$label.txt"; return 1; }
  cpu1=$(cpu_tree_seconds "$spid")
  if [ -n "$result" ]; then
    $PY bench/h2load_result.py "$label" "$OUT/h2load-$label.txt" "$log" "$answer" "$(stat -c %s "$body")" >>"$result"
    printf '{"label":"%s","server_cpu_s":%s,"load1":%s}\n' "$label" \
      "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.3f", b - a}')" "$(cut -d' ' -f1 /proc/loadavg)" >>"$result.cpu"
  fi
}

# grpc_answers PREFIX KEEP SIZES NAME=HOST:PORT NAME=HOST:PORT: before timing, both servers answer
# h2load's exact gRPC bodies alike (bench/peers/grpc_check.py, the answers in
# $OUT/PREFIX-answers-N.jsonl); sets ANSWER_N, server KEEP's answer size, for each N in SIZES.
grpc_answers() {
  local prefix=$1 keep=$2 sizes=$3 n
  shift 3
  for n in $sizes; do
    $PY bench/peers/grpc_check.py "$OUT/grpc_$n.bin" "$@" >"$OUT/$prefix-answers-$n.jsonl"
    eval "ANSWER_$n=$(grep "\"server\": \"$keep\"" "$OUT/$prefix-answers-$n.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["answer_bytes"])')"
  done
}

# kserve_cell LABEL PROTO N RESULT DURATION HTTP_PORT GRPC_PORT SERVER_PID: one timed cell of
# requests of N images: PROTO json (KServe v2 JSON) or v1 (TF Serving REST rows) under wrk, or
# grpc (KServe v2 gRPC) under h2load (needs ANSWER_N).
kserve_cell() {
  local label=$1 proto=$2 n=$3 result=$4 dur=$5 http=$6 grpc=$7 spid=$8 answer
  if [ "$proto" = json ]; then
    run_wrk "$label-json-$n" "http://127.0.0.1:$http/v2/models/emnist/infer" "$OUT/kserve_fp32_$n.json" application/json "$dur" "$result" "$spid"
  elif [ "$proto" = v1 ]; then
    run_wrk "$label-v1-$n" "http://127.0.0.1:$http/v1/models/emnist:predict" "$OUT/tfs_$n.json" application/json "$dur" "$result" "$spid"
  else
    eval "answer=\$ANSWER_$n"
    run_h2load "$label-grpc-$n" "http://127.0.0.1:$grpc/inference.GRPCInferenceService/ModelInfer" "$OUT/grpc_$n.bin" "$dur" "$result" "$spid" "$answer"
  fi
}

# start_two PREFIX BASE_BIN NEW_BIN: `emnist serve --model MODEL` from each binary, BASE on ports P
# (REST) and P+1 (gRPC), NEW on P+2 and P+3, with SERVE_ARGS for both and BASE_ARGS / NEW_ARGS
# for one each; waits until both answer; sets SPID_B and SPID_N (the server processes).
start_two() {
  local prefix=$1 base=$2 new=$3 port
  # shellcheck disable=SC2086
  start_server B "$OUT/$prefix-base.log" "$base" serve --model "$MODEL" --port "$P" --grpc-port $((P + 1)) ${SERVE_ARGS:-} ${BASE_ARGS:-}
  # shellcheck disable=SC2086
  start_server N "$OUT/$prefix-new.log" "$new" serve --model "$MODEL" --port $((P + 2)) --grpc-port $((P + 3)) ${SERVE_ARGS:-} ${NEW_ARGS:-}
  for port in "$P" $((P + 2)); do
    wait_http_200 "http://127.0.0.1:$port/v2/models/emnist/infer" "$OUT/kserve_fp32_1.json" application/json
  done
  SPID_B=$(server_child "$PID_B")
  SPID_N=$(server_child "$PID_N")
}

# two_cell WHO PROTO N RESULT DURATION: kserve_cell against start_two's BASE (WHO base) or NEW.
two_cell() {
  if [ "$1" = base ]; then
    kserve_cell "$1" "$2" "$3" "$4" "$5" "$P" $((P + 1)) "$SPID_B"
  else
    kserve_cell "$1" "$2" "$3" "$4" "$5" $((P + 2)) $((P + 3)) "$SPID_N"
  fi
}
