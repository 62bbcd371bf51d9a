#!/usr/bin/env bash
# The deployment check of `make demo`: start `emnist serve` on a free port in the background,
# run `emnist query --protocol all` against it, print the report, stop the server with SIGTERM
# (it must exit 0 after finishing what is in flight).
#
#   bash scripts/serve_and_query.sh [EMNIST_BINARY] [MODEL.onnx] [extra query flags...]
set -euo pipefail
EMNIST=${1:-./target/release/emnist}
MODEL=${2:-models/dnn.onnx}
shift $(( $# > 2 ? 2 : $# ))
LOG=$(mktemp)
"$EMNIST" serve --model "$MODEL" --port 0 2> "$LOG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
URL=""
for _ in $(seq 300); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$LOG" | head -n 1)
  [ -n "$URL" ] && break
  kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; echo "error: emnist serve exited before listening" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG" >&2; echo "error: emnist serve did not start within 30 s" >&2; exit 1; }
echo "emnist serve (pid $PID) is listening on $URL"
"$EMNIST" query --url "$URL" --model "$MODEL" --protocol all "$@"
kill -TERM $PID
wait $PID
echo "emnist serve stopped cleanly (exit 0)"
trap 'rm -f "$LOG"' EXIT
