#!/usr/bin/env bash
# The model `make demo` serves: the CNN trained with `--recipe best` (augmentation, one-cycle
# schedule, label smoothing, 10 % validation with the best epoch kept). One place for the command,
# so that the browser handwriting test trains exactly the demo's model.
#
#   bash scripts/train_demo_model.sh EMNIST_BINARY RUN_DIR [more `emnist train` options]
set -euo pipefail
EMNIST=${1:-./target/release/emnist}
OUT=${2:-models/cnn-best}
shift $(($# < 2 ? $# : 2))
exec "$EMNIST" train --model cnn --recipe best --epochs "${DEMO_BEST_EPOCHS:-6}" --out "$OUT" --force "$@"
