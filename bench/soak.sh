#!/usr/bin/env bash
# Soak (reliability issue): `emnist serve` at saturation for SECONDS with well-behaved clients
# only (phase A, the baseline), then for SECONDS with the same load plus misbehaving clients of
# every kind (phase B: bench/soak_clients.py: slow heads, slow bodies, idle connections, bodies
# over the limit, clients that hang up). Reports wrk's throughput and latency in both phases,
# what each misbehaving client saw, the server's own counts by status (/metrics), its memory
# (RSS sampled every 0.5 s, peak), and that nothing stays in flight afterwards. The server also
# serves gRPC (`--grpc-port`), and phase B sends misbehaving gRPC clients too (silent HTTP/2
# connections, idle ones after a call, messages that trickle in). Phase C then measures the
# memory bound for valid bodies: 32 concurrent valid requests near `--max-body`.
#
#   bash bench/soak.sh [MODEL] [SECONDS]          (defaults: models/dnn.onnx 60)
#
# Environment: EMNIST_BIN (use this binary instead of building one), CONNS (wrk connections,
# default 32), SERVE_ARGS (extra `emnist serve` flags), PORT (9321), GRPC_PORT (9322).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/dnn.onnx}
SECS=${2:-60}
export CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-2}
PORT=${PORT:-9321}
GRPC_PORT=${GRPC_PORT:-9322}
. bench/serve_common.sh
bench_setup
SOAK=bench/out/soak
mkdir -p "$SOAK"
BODY=$OUT/tfs_1.json
URL=http://127.0.0.1:$PORT/v1/models/emnist:predict
# The server as a user starts it, with an in-flight limit the slow clients could exhaust if their
# slots leaked, and a request timeout that turns slow bodies into 408s within the run.
# shellcheck disable=SC2086
start_server E "$SOAK/emnist-serve.log" "$EMNIST" serve --model "$MODEL" --port "$PORT" \
  --grpc-port "$GRPC_PORT" --max-inflight 256 --request-timeout-ms 5000 ${SERVE_ARGS:-}
wait_http_200 "$URL" "$BODY" application/json
SPID=$(server_child "$PID_E")
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SPID/status"; }
IDLE_KB=$(rss_kb)
: >"$SOAK/rss.txt"
( while kill -0 "$SPID" 2>/dev/null; do echo "$(date +%s.%N) $(rss_kb)" >>"$SOAK/rss.txt"; sleep 0.5; done ) &
SAMPLER=$!

echo "== phase A: wrk -c$CONNS for ${SECS}s, well-behaved clients only"
RUNS=$SOAK/runs.jsonl
: >"$RUNS"
run_wrk soak-A "$URL" "$BODY" application/json "${SECS}s" "$RUNS" "$SPID"
RSS_A_KB=$(rss_kb)
echo "== phase B: the same load plus misbehaving clients for ${SECS}s"
$PY bench/soak_clients.py 127.0.0.1 "$PORT" "$SECS" "$OUT/kserve_u8_128.json" "$GRPC_PORT" >"$SOAK/hostile.json" &
HOSTILE=$!
run_wrk soak-B "$URL" "$BODY" application/json "${SECS}s" "$RUNS" "$SPID"
wait "$HOSTILE"
RSS_B_KB=$(rss_kb)
sleep 5
curl -s "http://127.0.0.1:$PORT/metrics" >"$SOAK/metrics.txt"
READY=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/health/ready")
AFTER_KB=$(rss_kb)
PEAK_KB=$(hwm_kb)
# Phase C, the memory bound for valid bodies: 32 concurrent valid requests just under the 16 MiB
# limit (KServe v2 JSON, UINT8 data, 4,500 images each: 15.4 MiB), nothing else running.
echo "== phase C: 32 concurrent valid 15.5 MiB requests"
$PY - "$PORT" >"$SOAK/big.txt" <<'PYEOF'
import concurrent.futures, json, sys
import numpy as np
import requests
n = 4500
data = np.random.default_rng(0).integers(0, 256, n * 784).tolist()
body = json.dumps({"inputs": [{"name": "image", "shape": [n, 784], "datatype": "UINT8", "data": data}]}).encode()
url = f"http://127.0.0.1:{sys.argv[1]}/v2/models/emnist/infer"
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    codes = list(pool.map(lambda _: requests.post(url, data=body, headers={"content-type": "application/json"}).status_code, range(32)))
print(f"{len(body) / 2**20:.1f} MiB bodies, statuses: {sorted(set(codes))}, 200s: {codes.count(200)}")
PYEOF
BIG_AFTER_KB=$(rss_kb)
BIG_PEAK_KB=$(hwm_kb)
kill "$SAMPLER" 2>/dev/null || true

$PY - "$RUNS" "$SOAK/hostile.json" "$SOAK/metrics.txt" "$IDLE_KB" "$RSS_A_KB" "$RSS_B_KB" "$AFTER_KB" "$PEAK_KB" "$READY" "$SOAK/rss.txt" <<'PYEOF'
import json, re, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
hostile = json.load(open(sys.argv[2]))
metrics = open(sys.argv[3]).read()
idle, after_a, after_b, settled, peak = (int(x) / 1024 for x in sys.argv[4:9])
ready = sys.argv[9]
rss = [int(l.split()[1]) / 1024 for l in open(sys.argv[10]) if len(l.split()) == 2]
print("| phase | requests/s | p50 ms | p99 ms | max ms | 200 | non-200 | socket errors (connect/read/write/timeout) |")
print("|---|---|---|---|---|---|---|---|")
for r in runs:
    if "rps" not in r:
        continue
    errs = "/".join(str(r[k]) for k in ("err_connect", "err_read", "err_write", "err_timeout"))
    print(f"| {r['label']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['ok_200']:,} | {r['non200']} | {errs} |")
print()
print("| misbehaving client | outcomes |")
print("|---|---|")
for kind, outcomes in sorted(hostile.items()):
    print(f"| {kind} | " + ", ".join(f"{k}: {v:,}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])) + " |")
print()
statuses = re.findall(r'emnist_requests_total\{protocol="(\w+)",status="(\d+)"\} (\d+)', metrics)
print("server's counts (/metrics): " + ", ".join(f"{p} {s}: {int(c):,}" for p, s, c in statuses))
closed = re.findall(r'emnist_connections_closed_total\{reason="(\w+)"\} (\d+)', metrics)
print("connections closed by the server: " + (", ".join(f"{r}: {int(c):,}" for r, c in closed) or "none"))
inflight = re.search(r"^emnist_inflight_requests (\S+)", metrics, re.M).group(1)
abandoned = re.search(r"^emnist_abandoned_images_total (\S+)", metrics, re.M).group(1)
print(f"after the run: in flight {inflight}, /v2/health/ready {ready}, images of abandoned requests not run {abandoned}")
print(f"RSS MiB: idle {idle:.0f}, end of phase A {after_a:.0f}, end of phase B {after_b:.0f}, 5 s later {settled:.0f}, "
      f"peak during A and B (VmHWM) {peak:.0f}, max sampled {max(rss):.0f}")
PYEOF
echo "phase C: $(cat "$SOAK/big.txt"); RSS MiB after $((BIG_AFTER_KB / 1024)), peak (VmHWM) $((BIG_PEAK_KB / 1024))"
