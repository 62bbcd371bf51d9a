#!/usr/bin/env bash
# The first load and the cache, as a user meets them: `emnist explore --data FILE` as a whole
# process under GNU time (wall, user, sys, peak RSS), in three modes: a fresh cache (empty cache
# folder: decode, answer, write the entry), `--no-cache` (decode and answer only) and a cached run
# (the entry written by the fresh run). Binaries alternate within each round, modes too, so that
# other work on the machine falls on all of them alike; medians over ROUNDS.
#
#   bash bench/first_load.sh FILE ROUNDS BIN [BIN...]
#
# e.g. a baseline build and the current one:
#   bash bench/first_load.sh bench/out/emnist-byclass-bench-dense.mat 5 emnist-base target/release/emnist
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=$1 ROUNDS=$2
shift 2
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
runs="$WORK/runs.tsv"
for round in $(seq "$ROUNDS"); do
  b=0
  for bin in "$@"; do
    b=$((b + 1))
    cache="$WORK/cache-$b"
    for mode in fresh no-cache cached; do
      args=()
      case $mode in
        fresh) rm -rf "$cache" ;;
        no-cache) args=(--no-cache) ;;
        cached) ;;
      esac
      line=$(EMNIST_CACHE_DIR="$cache" /usr/bin/time -f "%e %U %S %M" "$bin" explore --data "$FILE" -q "${args[@]}" 2>&1 >/dev/null | tail -1)
      printf '%s\t%s\t%s\t%s\n' "$bin" "$mode" "$round" "$line" >>"$runs"
    done
    # The fresh run's entry must be complete: the cached run above was served by it.
    ls "$cache"/*.cache >/dev/null
  done
done
python3 - "$runs" <<'PYEOF'
import collections, statistics, sys
rows = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    b, mode, _, fig = line.rstrip("\n").split("\t")
    wall, user, sys_, rss = fig.split()
    if (b, mode) not in rows:
        order.append((b, mode))
    rows[(b, mode)].append((float(wall), float(user), float(sys_), int(rss)))
print(f"{'binary':<34} {'mode':<9} {'wall s':>7} {'user s':>7} {'sys s':>6} {'RSS MiB':>8}  walls")
for key in order:
    r = rows[key]
    med = [statistics.median(x[i] for x in r) for i in range(4)]
    walls = ", ".join(f"{x[0]:.2f}" for x in r)
    print(f"{key[0]:<34} {key[1]:<9} {med[0]:>7.2f} {med[1]:>7.2f} {med[2]:>6.2f} {med[3]/1024:>8.0f}  {walls}")
PYEOF
