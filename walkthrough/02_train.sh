#!/usr/bin/env bash
# Notebook 2, model exploration: the seed's linear model and DNN (two ELU hidden layers; Adam,
# batches of 128), the CNN it named as the next step, and their test-accuracy curves side by side.
source "$(dirname "$0")/common.sh"
for model in linear dnn cnn; do
  step "train $model ($EPOCHS epochs)"
  "$EMNIST" train --model "$model" --epochs "$EPOCHS" "${DATA_FLAGS[@]}" --out "$OUT/$model" --force
done
step "compare the runs"
"$EMNIST" compare "$OUT/linear" "$OUT/dnn" "$OUT/cnn" --out "$OUT/compare.png"
