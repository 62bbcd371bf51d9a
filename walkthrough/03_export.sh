#!/usr/bin/env bash
# Notebook 3, first half: translate each model to ONNX, proven equal to the trained weights on
# 1,000 test images before the file is written.
source "$(dirname "$0")/common.sh"
for model in linear dnn cnn; do
  step "export $model to ONNX"
  "$EMNIST" export --onnx --model "$OUT/$model" "${DATA_FLAGS[@]}"
done
