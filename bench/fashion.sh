#!/usr/bin/env bash
# Fashion-MNIST (real images, Debian's dataset-fashion-mnist): the seed's protocol for the three
# models (its figures must not move when new training options arrive), then `--recipe best` with
# the augmentation that suits garments (flips and shifts) on a CNN of at most 1 M parameters:
# 64, 128, 256 channels and 256 hidden units (962,314 parameters), the configuration the 10 %
# validation split (carved from the training images; never the test set) chose among seven.
#
#   bash bench/fashion.sh [BEST_EPOCHS]      (default 50; DEVICE=cuda|cpu|auto, default auto)
#
# On 2 CPU cores the best-recipe run takes about an hour; on one H200 (DEVICE=cuda), 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
EMNIST=${EMNIST_BIN:-target/release/emnist}
PY=${PY:-.venv/bin/python}
DATA=/usr/share/datasets/fashion-mnist
OUT=bench/out/fashion
EPOCHS=${1:-50}
DEVICE=${DEVICE:-auto}
mkdir -p "$OUT"
for model in linear dnn cnn; do
  "$EMNIST" train --model "$model" --device "$DEVICE" --data "$DATA" --out "$OUT/$model-seed" --force -q >/dev/null
  "$PY" bench/record_line.py "$model, seed protocol" "$OUT/$model-seed/model.json"
done
# --patience as long as the run: no early stop, but the best validation epoch is the one kept.
"$EMNIST" train --model cnn --channels 64,128,256 --hidden 256 --recipe best --augment garments \
  --epochs "$EPOCHS" --patience "$EPOCHS" --device "$DEVICE" --data "$DATA" --out "$OUT/cnn-best" --force -q >/dev/null
"$PY" bench/record_line.py "cnn 64,128,256/256, best, garments" "$OUT/cnn-best/model.json"
"$PY" -c 'import json, sys; print("parameters", json.load(open(sys.argv[1]))["parameters"])' "$OUT/cnn-best/model.json"
"$EMNIST" export --onnx --model "$OUT/cnn-best" --data "$DATA" -q | tail -n 3
