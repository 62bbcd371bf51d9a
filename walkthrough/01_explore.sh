#!/usr/bin/env bash
# Notebook 1, data exploration: sizes, class distribution, imbalance, train vs test shares, figures.
source "$(dirname "$0")/common.sh"
step "explore: statistics and figures"
"$EMNIST" explore "${DATA_FLAGS[@]}" --out "$OUT/explore"
