# Shared settings of the walkthrough scripts (sourced, not run).
#   EMNIST  the binary (default: target/release/emnist, built by `make build`)
#   DATA    a dataset path for --data (default: EMNIST under data/ if present, else the synthetic set)
#   EPOCHS  training epochs (default 5, the seed's; `make demo` uses 1)
#   OUT     where runs, models and reports go (default: models)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EMNIST=${EMNIST:-target/release/emnist}
EPOCHS=${EPOCHS:-5}
OUT=${OUT:-models}
DATA_FLAGS=()
[ -n "${DATA:-}" ] && DATA_FLAGS=(--data "$DATA")
[ -x "$EMNIST" ] || { echo "error: no binary at \`$EMNIST\`: run \`make build\` first (or set EMNIST=)" >&2; exit 1; }
step() { echo; echo "== $*"; }
