#!/usr/bin/env bash
# Real handwriting, the generator's ablation and class weighting, on the synthetic default.
#
# 1. For the full generator and for each ingredient left out (`--synthetic-without`), train the
#    same CNN (`--recipe RECIPE --epochs EPOCHS`), export it, and measure it on scikit-learn's
#    1,797 real digits through `/predict` (bench/real_handwriting.py): the ablation table.
# 2. The seed's DNN and CNN (1 epoch) with and without `--class-weights inverse-frequency`:
#    balanced accuracy on the synthetic test part, whose classes are as unbalanced as EMNIST's.
#
#   bash bench/real_handwriting.sh [EPOCHS] [RECIPE]      (default: 3 best)
set -euo pipefail
cd "$(dirname "$0")/.."
EMNIST=${EMNIST_BIN:-target/release/emnist}
PY=${PY:-.venv/bin/python}
EPOCHS=${1:-3}
RECIPE=${2:-best}
OUT=bench/out/real_handwriting
mkdir -p "$OUT"
specs=()
for variant in none hand-shapes script-faces writers jitter elastic pen framing; do
  args=()
  [ "$variant" = none ] || args=(--synthetic-without "$variant")
  echo "== without: $variant" >&2
  "$EMNIST" train --model cnn --recipe "$RECIPE" --epochs "$EPOCHS" --out "$OUT/$variant" --force -q "${args[@]}" >/dev/null
  "$EMNIST" export --onnx --model "$OUT/$variant" -q >/dev/null
  specs+=("$variant=$OUT/$variant.onnx")
done
"$PY" bench/real_handwriting.py --emnist "$EMNIST" --json "$OUT/ablation.json" "${specs[@]}"
for variant in none hand-shapes script-faces writers jitter elastic pen framing; do
  "$PY" bench/record_line.py "without $variant" "$OUT/$variant/model.json"
done

echo "== class weights (the seed's protocol, 1 epoch)" >&2
for model in dnn cnn; do
  for weights in none inverse-frequency; do
    "$EMNIST" train --model "$model" --epochs 1 --class-weights "$weights" --out "$OUT/$model-$weights" --force -q >/dev/null
    "$PY" bench/record_line.py "$model $weights" "$OUT/$model-$weights/model.json"
  done
done
