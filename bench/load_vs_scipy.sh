#!/usr/bin/env bash
# Load benchmark: a full-size byclass-shaped .mat file (697,932 + 116,323 images, written by scipy)
# decoded into upright row-major images by `emnist` vs by what a Python user does
# (scipy.io.loadmat + reshape to C-contiguous upright [N, 28, 28]). Side by side, alternating,
# ROUNDS times each; medians, the ratio, peak memory, and a check that both decode identical bytes.
#
#   make bench-load            (or: bash bench/load_vs_scipy.sh [ROUNDS])
#   DENSE=1 bash bench/load_vs_scipy.sh [ROUNDS]
#
# DENSE=1: the same shape with dense pixels (Fashion-MNIST's real images, tiled; make_bench_mat.py
# --dense), which deflate squeezes far less than the default file's mostly black strokes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
PY=.venv/bin/python
if [ "${DENSE:-0}" = 1 ]; then
  FILE=bench/out/emnist-byclass-bench-dense.mat
  MAKE_ARGS=(--dense)
  GOAL=1.5
else
  FILE=bench/out/emnist-byclass-bench.mat
  MAKE_ARGS=()
  GOAL=2
fi
mkdir -p bench/out
[ -f "$FILE" ] || $PY bench/make_bench_mat.py "$FILE" "${MAKE_ARGS[@]}"
cargo build -q --release -p emnist-data --example load_bench
OURS=${CARGO_TARGET_DIR:-target}/release/examples/load_bench
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }

ours=(); theirs=(); 
for i in $(seq "$ROUNDS"); do
  ours+=("$($OURS "$FILE" --cold-only | $PY -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')")
  theirs+=("$($PY bench/load_scipy.py "$FILE" | $PY -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')")
done
ours_rss=$( { /usr/bin/time -f "%M" $OURS "$FILE" --cold-only >/dev/null; } 2>&1 | tail -1)
theirs_rss=$( { /usr/bin/time -f "%M" $PY bench/load_scipy.py "$FILE" >/dev/null; } 2>&1 | tail -1)
full=$($OURS "$FILE" bench/out/cache)
ref=$($PY bench/load_scipy.py "$FILE")
rm -rf bench/out/cache

$PY - "$full" "$ref" "$ours_rss" "$theirs_rss" "${ours[*]}" "${theirs[*]}" "$GOAL" <<'PYEOF'
import json, statistics, sys
full, ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
goal = sys.argv[7]
ours_rss, theirs_rss = int(sys.argv[3]) * 1024, int(sys.argv[4]) * 1024
ours = [float(x) for x in sys.argv[5].split()]
theirs = [float(x) for x in sys.argv[6].split()]
decoded = (full["train"] + full["test"]) * 785  # 784 pixels + 1 label byte per image
keys = ["train_images_md5", "test_images_md5", "train_labels_md5", "test_labels_md5"]
same = all(full[k] == ref[k] for k in keys)
mo, mt = statistics.median(ours), statistics.median(theirs)
print(f"images            {full['train']:,} train + {full['test']:,} test; decoded bytes {decoded/2**20:.0f} MiB")
print(f"emnist decode     median {mo:.3f} s  (runs {', '.join(f'{x:.3f}' for x in ours)})")
print(f"scipy + reshape   median {mt:.3f} s  (runs {', '.join(f'{x:.3f}' for x in theirs)})")
print(f"speed-up          {mt/mo:.2f}x  (goal >= {goal}x)")
print(f"peak RSS emnist   {ours_rss/2**20:.0f} MiB = {ours_rss/decoded:.2f}x decoded bytes (goal <= 1.5x)")
print(f"peak RSS scipy    {theirs_rss/2**20:.0f} MiB = {theirs_rss/decoded:.2f}x decoded bytes")
print(f"cached load       {full['cached_load_seconds']:.4f} s to map; {full['cached_touch_all_train_bytes_seconds']:.3f} s to read every train byte (goal < 1 s)")
print(f"identical bytes   {same} (md5 of upright images and class indices, emnist vs scipy)")
if not same:
    sys.exit("decoded bytes differ from scipy's")
PYEOF
