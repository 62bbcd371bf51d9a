#!/usr/bin/env bash
# The deployment check of `make demo`, on a model repository: serve DIR (TensorFlow Serving's
# layout, `DIR/emnist/<version>/model.onnx`) in the background, check the newest version with
# `emnist query --protocol all`; then, when the challenger run has a better recorded test accuracy,
# export it into the repository as the next version, wait for the running server to load it (no
# restart), and check that newest version too. The server is stopped with SIGTERM and must exit 0.
#
#   bash scripts/serve_repo_and_query.sh EMNIST_BINARY REPO_DIR CHALLENGER_RUN_DIR
set -euo pipefail
EMNIST=${1:-./target/release/emnist}
REPO=${2:-models/repo}
CHALLENGER=${3:-models/cnn}
PY=${PY:-.venv/bin/python}
LOG=$(mktemp)
. "$(dirname "$0")/serve_common.sh"
trap '[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true; rm -f "$LOG" "$LOG.ready.json"' EXIT
start_serve "$LOG" "$EMNIST" --models "$REPO" --port 0 --poll-secs 1
newest() { curl -sf "$URL/v2/models/emnist" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["parameters"]["version"])'; }
accuracy() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["metrics"]["test_accuracy"])' "$1"; }
V=$(newest)
echo "emnist serve (pid $PID) is listening on $URL, serving $REPO: emnist version $V"
"$EMNIST" query --url "$URL" --model "$REPO/emnist/$V/model.onnx" --protocol all
SERVED=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["recorded_test_accuracy"])' "$REPO/emnist/$V/model.export.json")
CHALLENGE=$(accuracy "$CHALLENGER/model.json")
if "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$CHALLENGE" "$SERVED"; then
  echo "$CHALLENGER tests better ($CHALLENGE vs $SERVED): exporting it as the next version of emnist in $REPO"
  "$EMNIST" export --onnx --model "$CHALLENGER" --repository "$REPO" --as emnist
  NEXT=$((V + 1))
  for _ in $(seq 300); do [ "$(newest)" = "$NEXT" ] && break; sleep 0.1; done
  [ "$(newest)" = "$NEXT" ] || { cat "$LOG" >&2; echo "error: the server did not load version $NEXT within 30 s" >&2; exit 1; }
  echo "the running server now answers with version $NEXT; checking it"
  "$EMNIST" query --url "$URL" --model "$REPO/emnist/$NEXT/model.onnx" --protocol all
else
  echo "$CHALLENGER does not test better ($CHALLENGE vs $SERVED): the repository keeps version $V"
fi
kill -TERM $PID
wait $PID
echo "emnist serve stopped cleanly (exit 0)"
trap 'rm -f "$LOG" "$LOG.ready.json"' EXIT
