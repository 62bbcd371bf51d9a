#!/usr/bin/env bash
# Training throughput: `emnist train --model dnn` against two plain PyTorch scripts (the same DNN,
# data, batch size, epochs, threads and evaluation protocol), side by side in one run.
#
#   bash bench/train_vs_pytorch.sh [EPOCHS] [THREADS] [ROUNDS]
#
# Data: Fashion-MNIST (real images, Debian's dataset-fashion-mnist; `make setup` installs it).
# Each round runs the three in turn; the table shows medians over rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-5}
THREADS=${2:-2}
ROUNDS=${3:-1}
DATA=/usr/share/datasets/fashion-mnist
PY=.venv/bin/python
[ -d "$DATA" ] || { echo "needs $DATA (apt-get install dataset-fashion-mnist)"; exit 1; }
# EMNIST_BIN=path uses an existing binary instead of building one.
EMNIST=${EMNIST_BIN:-./target/release/emnist}
[ -n "${EMNIST_BIN:-}" ] || cargo build -q --release --workspace
OUT=bench/out/train
mkdir -p "$OUT"
: > "$OUT/runs.jsonl"
for r in $(seq "$ROUNDS"); do
  "$EMNIST" -q train --model dnn --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS" \
    --out "$OUT/emnist-dnn" --force --json \
    | $PY -c 'import json,sys; r=json.load(sys.stdin); n=r["dataset"]["train_images"]*r["training"]["epochs"]; print(json.dumps({"mode":"emnist","seconds":r["wall_time_s"],"samples_per_s":n/r["wall_time_s"],"test_accuracy":r["metrics"]["test_accuracy"]}))' \
    >> "$OUT/runs.jsonl"
  for mode in plain dataloader; do
    $PY bench/train_pytorch.py --mode $mode --epochs "$EPOCHS" --threads "$THREADS" --data "$DATA" >> "$OUT/runs.jsonl"
  done
done
$PY - "$OUT/runs.jsonl" "$EPOCHS" "$THREADS" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["mode"], []).append(r)
med = {m: {k: statistics.median(x[k] for x in rs) for k in ("seconds", "samples_per_s", "test_accuracy")} for m, rs in by.items()}
print(f"Fashion-MNIST, DNN 784-512-256-10 (ELU), Adam 3e-4, batch 128, {sys.argv[2]} epochs, {sys.argv[3]} threads, {len(by['emnist'])} round(s)")
print(f"{'':34} {'seconds':>8} {'samples/s':>10} {'test acc':>9} {'emnist speed-up':>16}")
labels = {"emnist": "emnist train", "plain": "PyTorch (a) preloaded tensor, x[idx]", "dataloader": "PyTorch (b) TensorDataset+DataLoader"}
for m in ("emnist", "plain", "dataloader"):
    x = med[m]
    ratio = med["emnist"]["samples_per_s"] / x["samples_per_s"]
    print(f"{labels[m]:34.34} {x['seconds']:8.2f} {x['samples_per_s']:10.0f} {100*x['test_accuracy']:8.2f}% {ratio:15.2f}x")
for m in ("plain", "dataloader"):
    d = 100 * (med["emnist"]["test_accuracy"] - med[m]["test_accuracy"])
    print(f"accuracy difference vs {m}: {d:+.2f} points")
PYEOF
