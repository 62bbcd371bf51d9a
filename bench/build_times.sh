#!/usr/bin/env bash
# Build times before and after a change to the crate layout (issue 24), the commands a developer
# types, each in its own clean target folder:
#   1. cold `cargo build -p emnist-train` (the trainer alone, from nothing);
#   2. after touching the server's connection layer (serve/conn.rs, wherever the revision keeps
#      it), the warm rebuild of the trainer and of the serving crate's own tests
#      (`cargo test -p <crate> --no-run`), and which of our crates each rebuilt.
#
#   bash bench/build_times.sh BASE_REV [NEW_REV]   (NEW_REV default HEAD)
#
# Writes bench/out/build/times.txt (wall seconds, CPU seconds: user + system). Needs the registry's crates already fetched (no download is
# timed: `cargo fetch` runs first). Takes about half an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/build_times.sh BASE_REV [NEW_REV]}
NEW=${2:-HEAD}
OUT=$PWD/bench/out/build
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'for d in "$WORK"/src-*; do git worktree remove --force "$d" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
: >"$OUT/times.txt"
timed() { # LABEL LOG cmd...: wall and CPU seconds of one command
  local label=$1 log=$2
  shift 2
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" >"$log" 2>&1
  read -r wall user sys <"$WORK/time"
  local ours
  ours=$(grep -oE 'Compiling emnist[a-z-]*' "$log" | awk '{print $2}' | sort -u | tr '\n' ' ' || true)
  printf '%-44s wall %7.1f s  cpu %7.1f s  rebuilt: %s\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "${ours:-none}" | tee -a "$OUT/times.txt"
}
for rev in "$BASE" "$NEW"; do
  sha=$(git rev-parse --short "$rev")
  src=$WORK/src-$sha
  git worktree add -q --detach "$src" "$rev"
  export CARGO_TARGET_DIR=$WORK/target-$sha
  (cd "$src" && cargo fetch -q)
  # the `.venv`/.libtorch the trainer's build script links against
  ln -s "$PWD/.venv" "$src/.venv"
  [ -e .libtorch ] && ln -s "$PWD/.libtorch" "$src/.libtorch"
  conn=crates/emnist-serve/src/server/conn.rs
  [ -f "$src/$conn" ] || conn=crates/emnist-core/src/serve/conn.rs
  serve_crate=$(case "$conn" in crates/emnist-core/*) echo emnist-core ;; *) echo emnist-serve ;; esac)
  (cd "$src" && timed "$sha cold: cargo build -p emnist-train" "$WORK/log" cargo build -p emnist-train)
  touch "$src/$conn"
  (cd "$src" && timed "$sha touch $conn: cargo build -p emnist-train" "$WORK/log" cargo build -p emnist-train)
  (cd "$src" && cargo test -q -p "$serve_crate" --no-run >/dev/null 2>&1)
  touch "$src/$conn"
  (cd "$src" && timed "$sha touch $conn: cargo test -p $serve_crate --no-run" "$WORK/log" cargo test -p "$serve_crate" --no-run)
done
