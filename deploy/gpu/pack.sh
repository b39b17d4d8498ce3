#!/usr/bin/env bash
# Builds a self-contained bundle for a GPU host that reaches no package registry: Node itself, the
# built apps, production node_modules trimmed to linux-x64, the generated models, and the ONNX
# Runtime 1.29.0 CUDA provider libraries (npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9,
# CUDA 13), the benchmark model, and redis-server with the libraries it links beyond glibc (a GPU
# host that is only lent for a benchmark has none). The bundle is xz-compressed and split into parts
# small enough for one device call each.
#
#   bash deploy/gpu/pack.sh            # → .gpu/bundle.tar.xz.part-aa, -ab, …
set -euo pipefail
cd "$(dirname "$0")/../.."
PART_SIZE=${PART_SIZE:-58m}
OUT=.gpu
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

npm run build >/dev/null
npm run models >/dev/null
mkdir -p "$STAGE/app" "$OUT"
cp "$(command -v node)" "$STAGE/node"
cp -r package.json package-lock.json nx.json apps libs fixtures "$STAGE/app/"
mkdir -p "$STAGE/app/models" && cp models/yolov8n-topology-640.onnx "$STAGE/app/models/"
find "$STAGE/app" -name node_modules -prune -o -name '*.ts' ! -name '*.d.ts' -print | grep '/src/\|/test/' | xargs rm -f
(cd "$STAGE/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
# Only the linux-x64 ONNX Runtime binary travels; the tarball carries every platform's.
ORT_BIN="$STAGE/app/node_modules/onnxruntime-node/bin/napi-v6"
rm -rf "$ORT_BIN/darwin" "$ORT_BIN/win32" "$ORT_BIN/linux/arm64"
# The CUDA provider libraries, next to the binding, where ONNX Runtime looks for them.
(cd "$STAGE" && npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 >/dev/null && tar -xzf ./*.tgz && rm ./*.tgz)
find "$STAGE/package" -name 'libonnxruntime_providers_*.so' -exec cp {} "$ORT_BIN/linux/x64/" \;
rm -rf "$STAGE/package"
ls -la "$ORT_BIN/linux/x64/"
# redis-server behind a wrapper that finds its own libraries (liblzf, jemalloc, …) and nothing else's.
mkdir -p "$STAGE/redis/lib"
cp "$(command -v redis-server)" "$STAGE/redis/redis-server.bin"
ldd "$(command -v redis-server)" | awk '$3 ~ /^\// {print $3}' | grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' | xargs -I{} cp -L {} "$STAGE/redis/lib/"
printf '#!/bin/sh\nd=$(dirname "$0")\nLD_LIBRARY_PATH="$d/lib" exec "$d/redis-server.bin" "$@"\n' >"$STAGE/redis/redis-server"
chmod +x "$STAGE/redis/redis-server"
tar -C "$STAGE" -cf - node app redis | xz -T0 -6 | split -b "$PART_SIZE" - "$OUT/bundle.tar.xz.part-"
ls -la "$OUT"
echo "carry one part per device call into the same warm machine, then run deploy/gpu/run.sh there"
