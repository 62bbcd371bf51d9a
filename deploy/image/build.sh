#!/usr/bin/env bash
# `make image`: the serving image, built with podman (or docker where it is what a user has) from
# deploy/image/Containerfile over a root filesystem assembled here from files: no base image is
# pulled from a hub. Tagged emnist-serve:<crate version> and emnist-serve:latest.
#
#   bash deploy/image/build.sh            (MODEL=models/cnn-best.onnx EMNIST_BIN=target/release/emnist)
#
# Environment: MODEL (the ONNX file baked in at /models/model.onnx), EMNIST_BIN (the binary),
# ORT_LIB (onnxruntime's library; default: the one beside EMNIST_BIN, else the .venv's), ENGINE
# (podman or docker; default: podman if installed), TAG (default emnist-serve).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-models/cnn-best.onnx}
BIN=${EMNIST_BIN:-target/release/emnist}
TAG=${TAG:-emnist-serve}
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
[ -f "$MODEL" ] || { echo "error: no model \`$MODEL\`: run \`make demo\` or pass MODEL=FILE.onnx" >&2; exit 1; }
[ -x "$BIN" ] || { echo "error: no binary \`$BIN\`: run \`make build\` or pass EMNIST_BIN" >&2; exit 1; }
ORT_LIB=${ORT_LIB:-$( (ls "$(dirname "$BIN")"/libonnxruntime.so* 2>/dev/null || true) | sort | tail -1)}
ORT_LIB=${ORT_LIB:-$( (ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null || true) | sort | tail -1)}
[ -f "$ORT_LIB" ] || { echo "error: no onnxruntime library: run \`make setup\` or pass ORT_LIB" >&2; exit 1; }
VERSION=$("$BIN" --version | head -1 | awk '{print $2}')

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/rootfs
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc" "$ROOT/models" "$ROOT/tmp"
chmod 1777 "$ROOT/tmp"
# Debug sections are not needed to serve: a stripped copy.
objcopy --strip-debug "$BIN" "$ROOT/usr/local/bin/emnist" 2>/dev/null || cp "$BIN" "$ROOT/usr/local/bin/emnist"
cp -L "$ORT_LIB" "$ROOT/usr/local/bin/"
# Every shared library the binary and onnxruntime load (and the loader), at the path ldd names.
for f in "$ROOT/usr/local/bin/emnist" "$ROOT/usr/local/bin/$(basename "$ORT_LIB")"; do
  ldd "$f" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -Ln "$lib" "$ROOT$lib"
  done
done
echo "emnist:x:10001:10001:emnist serve:/models:/usr/sbin/nologin" >"$ROOT/etc/passwd"
echo "emnist:x:10001:" >"$ROOT/etc/group"
cp "$MODEL" "$ROOT/models/model.onnx"
chmod -R a+rX "$ROOT"
cp deploy/image/Containerfile "$STAGE/Containerfile"

BUILD=(build)
if [ "$(basename "$ENGINE")" = podman ]; then
  # runc (Debian's crun stops on this kernel's cgroups) and limits rootful podman can set here;
  # the docker format keeps the HEALTHCHECK.
  BUILD=(--runtime runc build --format docker --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi
"$ENGINE" "${BUILD[@]}" -q -t "$TAG:$VERSION" -t "$TAG:latest" "$STAGE" >/dev/null
SIZE=$("$ENGINE" image inspect "$TAG:$VERSION" --format '{{.Size}}')
echo "image $TAG:$VERSION (and :latest): $((SIZE / 1000000)) MB, model \`$MODEL\`, onnxruntime $(basename "$ORT_LIB")"
