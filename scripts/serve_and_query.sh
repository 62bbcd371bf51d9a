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
. "$(dirname "$0")/serve_common.sh"
trap '[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true; rm -f "$LOG" "$LOG.ready.json"' EXIT
start_serve "$LOG" "$EMNIST" --model "$MODEL" --port 0
echo "emnist serve (pid $PID) is listening on $URL"
"$EMNIST" query --url "$URL" --model "$MODEL" --protocol all "$@"
kill -TERM $PID
wait $PID
echo "emnist serve stopped cleanly (exit 0)"
trap 'rm -f "$LOG" "$LOG.ready.json"' EXIT
