#!/usr/bin/env bash
# Reload memory: `emnist serve --models R` while version 2 of a model is added and removed CYCLES
# times (each step made visible by SIGHUP, polling off, and waited for through the KServe model
# metadata), sampling the server's VmRSS (/proc/PID/status) at start and after 50, 200 and 500
# cycles, for each engine. Growth that levels off is allocator behaviour; growth that keeps going
# is a leak.
#
#   bash bench/reload_memory.sh [MODEL] [CYCLES]     (defaults: a generated 784-256-128-62 DNN, 500)
#
# Environment: EMNIST_BIN (default: target/release/emnist, built if missing), ENGINES (default
# "tract onnxruntime"), THREADS (`--threads`, default 8: a model's worker threads, each of which
# may take a malloc arena of its own), ORT_LIB (default: the .venv wheel's libonnxruntime.so), PORT (9331).
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES=${2:-500}
ENGINES=${ENGINES:-tract onnxruntime}
PORT=${PORT:-9331}
THREADS=${THREADS:-8}
OUT=bench/out/reload_memory
mkdir -p "$OUT"
EMNIST=${EMNIST_BIN:-./target/release/emnist}
[ -n "${EMNIST_BIN:-}" ] || [ -x "$EMNIST" ] || cargo build -q --release -p emnist
MODEL=${1:-$OUT/dnn.onnx}
if [ -z "${1:-}" ]; then
  .venv/bin/python - "$MODEL" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
rng = np.random.default_rng(0)
sizes = [784, 256, 128, 62]
inits, nodes, x = [], [], "image"
for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
    inits += [numpy_helper.from_array(rng.normal(0, 0.05, (a, b)).astype(np.float32), f"w{i}"),
              numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}")]
    y = f"h{i}" if i < len(sizes) - 2 else "logits"
    nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y]))
    if i < len(sizes) - 2:
        nodes.append(helper.make_node("Relu", [y], [y + "r"]))
        y += "r"
    x = y
nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
graph = helper.make_graph(nodes, "dnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 784])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 62]),
                           helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 62])], inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), sys.argv[1])
EOF
fi
ORT_LIB=${ORT_LIB:-$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -1)}

PID=
stop() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
versions() { curl -s -m 5 "http://127.0.0.1:$PORT/v2/models/emnist" | grep -o '"versions":\[[^]]*\]' || true; }
# wait_for WANT: SIGHUP, then poll the metadata until the versions read WANT.
wait_for() {
  kill -HUP "$PID"
  for _ in $(seq 2000); do
    [ "$(versions)" = "$1" ] && return 0
    sleep 0.01
  done
  echo "the server did not reach $1 (now: $(versions))" >&2
  exit 1
}

RESULT=$OUT/results.txt
: >"$RESULT"
for engine in $ENGINES; do
  repo=$(mktemp -d)
  mkdir -p "$repo/emnist/1"
  cp "$MODEL" "$repo/emnist/1/model.onnx"
  args=(serve --models "$repo" --port "$PORT" --poll-secs 0 --engine "$engine" --threads "$THREADS")
  [ "$engine" = onnxruntime ] && args+=(--onnxruntime-lib "$ORT_LIB")
  "$EMNIST" "${args[@]}" 2>"$OUT/serve-$engine.log" &
  PID=$!
  for _ in $(seq 300); do [ -n "$(versions)" ] && break; sleep 0.1; done
  line="$engine: start $(rss_mb) MB"
  for c in $(seq "$CYCLES"); do
    mkdir -p "$repo/emnist/2"
    cp "$MODEL" "$repo/emnist/2/model.onnx"
    wait_for '"versions":["1","2"]'
    rm -r "$repo/emnist/2"
    wait_for '"versions":["1"]'
    case $c in 50 | 200 | 500) line="$line, after $c cycles $(rss_mb) MB" ;; esac
  done
  echo "$line" | tee -a "$RESULT"
  stop
  PID=
  rm -r "$repo"
done
echo "$EMNIST; model $MODEL ($(stat -c %s "$MODEL") bytes); $CYCLES cycles; --threads $THREADS" | tee -a "$RESULT"
