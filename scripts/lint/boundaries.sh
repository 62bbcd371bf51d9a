#!/usr/bin/env bash
# The crate boundaries that matter, checked with `cargo tree` (normal and build dependencies, the
# way `cargo build -p CRATE` resolves them): `make lint` runs this.
#   - libtorch (tch, torch-sys) only in emnist-train
#   - no server stack (axum, tonic, hyper, rustls) and no engine (tract, ort) in the trainer
#   - tract and ort only in emnist-runtime and the crates above it (serve, the CLI)
#   - plotters only in emnist-report and the crates above it
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO=${CARGO:-cargo}
fail=0
# deps CRATE: every package CRATE builds with, one name per line.
deps() { "$CARGO" tree -q -p "$1" -e normal,build --prefix none --no-dedupe | awk '{print $1}' | sort -u; }
forbid() { # CRATE "what" PATTERN
  local hits
  hits=$(deps "$1" | grep -E "^($3)\$" | tr '\n' ' ' || true)
  if [ -n "$hits" ]; then
    echo "error: $1 depends on $2: $hits" >&2
    fail=1
  fi
}
TORCH='tch|torch-sys'
SERVER='axum|axum-core|tonic|hyper|hyper-util|rustls|tokio-rustls'
ENGINE='tract-onnx|tract-core|tract-hir|ort|ort-sys'
for c in emnist-data emnist-download emnist-model emnist-report emnist-runtime emnist-serve emnist-cli emnist; do
  forbid "$c" "libtorch (only emnist-train may)" "$TORCH"
done
forbid emnist-train "the server stack" "$SERVER"
forbid emnist-train "an inference engine" "$ENGINE"
for c in emnist-data emnist-download emnist-model emnist-report emnist-cli; do
  forbid "$c" "an inference engine (only emnist-runtime and what uses it)" "$ENGINE"
done
for c in emnist-data emnist-download emnist-model emnist-report emnist-runtime emnist-cli; do
  forbid "$c" "the server stack (only emnist-serve and the CLI)" "axum|axum-core|tonic|hyper"
done
for c in emnist-data emnist-download emnist-model emnist-runtime emnist-serve emnist-cli; do
  forbid "$c" "plotters (only emnist-report and what uses it)" "plotters"
done
[ "$fail" = 0 ] && echo "crate boundaries hold (libtorch, server stack, engines, plotters)"
exit "$fail"
