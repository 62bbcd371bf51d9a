#!/usr/bin/env bash
# The notebooks themselves: one self-contained HTML page from everything the steps above wrote.
source "$(dirname "$0")/common.sh"
step "report"
"$EMNIST" report --models "$OUT" "${DATA_FLAGS[@]}" --out reports/index.html
echo "open $(pwd)/reports/index.html in a browser"
