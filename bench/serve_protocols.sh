#!/usr/bin/env bash
# Batch-128 requests to `emnist serve`, one protocol at a time: GraphPipe (flatbuffers), TF-Serving
# JSON, KServe v2 JSON (FP32 and UINT8) and KServe v2 with Triton's binary tensor extension (FP32).
# The same 128 real images (Fashion-MNIST test set) in every body; bodies are written beforehand
# by bench/make_serve_bodies.py and replayed by wrk (bench/wrk_post.lua), loopback only.
#
#   bash bench/serve_protocols.sh [MODEL] [ROUNDS] [DURATION]      (defaults: models/dnn.onnx 3 10s)
#
# Environment: EMNIST_BIN (use this binary instead of building one), CONNS (default 8),
# WRK_THREADS (2), SERVE_ARGS (extra `emnist serve` flags), PORT_E (9313).
# rows/s = requests/s x 128. Each round runs every protocol once (the order rotates), after a
# 2 s warm-up of each; the table shows medians over rounds. Every answer's status is counted.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/dnn.onnx}
ROUNDS=${2:-3}
DUR=${3:-10s}
export CONNS=${CONNS:-8} WRK_THREADS=${WRK_THREADS:-2}
PORT_E=${PORT_E:-9313}
. bench/serve_common.sh
bench_setup
BASE=http://127.0.0.1:$PORT_E
# label | path | body | content type | extra header
PROTOS=(
  "graphpipe|/|$OUT/graphpipe_128.fb|application/octet-stream|"
  "tfserving-json|/v1/models/emnist:predict|$OUT/tfs_128.json|application/json|"
  "kserve-json-fp32|/v2/models/emnist/infer|$OUT/kserve_fp32_128.json|application/json|"
  "kserve-json-uint8|/v2/models/emnist/infer|$OUT/kserve_u8_128.json|application/json|"
  "kserve-binary-fp32|/v2/models/emnist/infer|$OUT/kserve_bin_128.bin|application/octet-stream|Inference-Header-Content-Length: $(cat "$OUT/kserve_bin_128.hlen")"
)
# shellcheck disable=SC2086
start_server E "$OUT/emnist-serve-protocols.log" "$EMNIST" serve --model "$MODEL" --port "$PORT_E" ${SERVE_ARGS:-}
wait_http_200 "$BASE/v1/models/emnist:predict" "$OUT/tfs_1.json" application/json
SPID_E=$(server_child "$PID_E")

# Each body gets a 200 and 128 rows of probabilities that agree across protocols.
for p in "${PROTOS[@]}"; do
  IFS='|' read -r label path body ct extra <<<"$p"
  hdr=(-H "Content-Type: $ct")
  [ -z "$extra" ] || hdr+=(-H "$extra")
  code=$(curl -s -o "$OUT/answer-$label.bin" -D "$OUT/answer-$label.headers" -w '%{http_code}' -X POST "${hdr[@]}" --data-binary "@$body" "$BASE$path")
  [ "$code" = 200 ] || { echo "$label: status $code: $(head -c 300 "$OUT/answer-$label.bin")"; exit 1; }
done
$PY - "$OUT" <<'PYEOF'
import json, sys
import numpy as np
out = sys.argv[1]
def rd(label):
    return open(f"{out}/answer-{label}.bin", "rb").read()
import graphpipe.convert as gc
tensors, errors = gc.deserialize_infer_response(rd("graphpipe"))
assert not errors and len(tensors) == 1, (errors, len(tensors))
probs = {"graphpipe": tensors[0]}
probs["tfserving-json"] = np.array([p["probabilities"] for p in json.loads(rd("tfserving-json"))["predictions"]])
for k in ("kserve-json-fp32", "kserve-json-uint8"):
    o = [o for o in json.loads(rd(k))["outputs"] if o["name"] == "probabilities"][0]
    probs[k] = np.array(o["data"]).reshape(o["shape"])
hdrs = open(f"{out}/answer-kserve-binary-fp32.headers").read().lower()
hlen = int([l for l in hdrs.splitlines() if l.startswith("inference-header-content-length")][0].split(":")[1])
raw = rd("kserve-binary-fp32")
o = [o for o in json.loads(raw[:hlen])["outputs"] if o["name"] == "probabilities"][0]
probs["kserve-binary-fp32"] = np.frombuffer(raw[hlen:], dtype="<f4").reshape(o["shape"])
ref = np.asarray(probs["graphpipe"], dtype=np.float64).reshape(128, -1)
for k, v in probs.items():
    v = np.asarray(v, dtype=np.float64).reshape(128, -1)
    d = float(np.abs(v - ref).max())
    same = int((v.argmax(1) == ref.argmax(1)).sum())
    print(f"{k:20} answer {len(rd(k)):>9} bytes, [{v.shape[0]}, {v.shape[1]}], max |p - graphpipe's| {d:.1e}, same argmax {same}/128")
    assert v.shape[0] == 128 and same == 128 and d < 1e-2, f"{k} disagrees"
PYEOF

RUNS=$OUT/protocols.jsonl
: >"$RUNS"
: >"$RUNS.cpu"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${PROTOS[@]}"; do
  IFS='|' read -r label path body ct extra <<<"$p"
  run_wrk "$label-warmup" "$BASE$path" "$body" "$ct" 2s "" "$SPID_E" "$extra"
done
n=${#PROTOS[@]}
for r in $(seq "$ROUNDS"); do
  for i in $(seq 0 $((n - 1))); do
    IFS='|' read -r label path body ct extra <<<"${PROTOS[$(((i + r - 1) % n))]}"
    run_wrk "$label" "$BASE$path" "$body" "$ct" "$DUR" "$RUNS" "$SPID_E" "$extra"
  done
done

$PY - "$RUNS" "$MODEL" "$DUR" "$LOAD0" "$OUT/sizes.json" "$CONNS" <<'PYEOF'
import json, statistics, sys
sys.path.insert(0, "bench")
from serve_runs import load
runs, by, med = load(sys.argv[1], ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req"))
sizes = json.load(open(sys.argv[5]))
files = {"graphpipe": "graphpipe_128.fb", "tfserving-json": "tfs_128.json", "kserve-json-fp32": "kserve_fp32_128.json",
         "kserve-json-uint8": "kserve_u8_128.json", "kserve-binary-fp32": "kserve_bin_128.bin"}
print()
print(f"model {sys.argv[2]}, 128 images per request, wrk -t2 -c{sys.argv[6]} -d{sys.argv[3]} --latency, "
      f"{len(by['graphpipe'])} round(s), medians; load average at start {sys.argv[4]}")
print(f"{'':20} {'body bytes':>10} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'non-200':>8} {'vs GraphPipe':>12}")
gp = med["graphpipe"]["rps"]
for k in files:
    m = med[k]
    non200 = sum(x["non200"] for x in by[k])
    print(f"{k:20} {sizes[files[k]]:10d} {m['rps']:8.1f} {128 * m['rps']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['cpu_ms_per_req']:10.2f} {non200:8d} {m['rps'] / gp:11.2f}x")
for k, v in by.items():
    print(f"  {k} per round: " + ", ".join(f"{128 * x['rps']:.0f} rows/s (load {x['load1']})" for x in v))
for x in runs:
    if x["non200"] or x["err_timeout"] or x["err_read"]:
        print(f"  {x['label']}: {x['non200']} non-200, {x['err_timeout']} timeouts, {x['err_read']} read errors; first non-200: {x['first_non200']}")
PYEOF
