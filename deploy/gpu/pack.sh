#!/usr/bin/env bash
# Builds a self-contained bundle for a GPU host that reaches no package registry: Node itself, the
# built apps, production node_modules trimmed to linux-x64, the generated models, and the ONNX
# Runtime 1.29.0 CUDA provider libraries (npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9,
# CUDA 13). The bundle is xz-compressed and split into parts small enough for one device call each.
#
#   bash deploy/gpu/pack.sh            # → .gpu/bundle.tar.xz.part-aa, -ab, …
set -euo pipefail
cd "$(dirname "$0")/../.."
PART_SIZE=${PART_SIZE:-60m}
OUT=.gpu
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

npm run build >/dev/null
npm run models >/dev/null
mkdir -p "$STAGE/app" "$OUT"
cp "$(command -v node)" "$STAGE/node"
cp -r package.json package-lock.json nx.json apps libs models fixtures "$STAGE/app/"
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
tar -C "$STAGE" -cJf - node app | split -b "$PART_SIZE" - "$OUT/bundle.tar.xz.part-"
ls -la "$OUT"
echo "carry one part per device call into the same warm machine, then run deploy/gpu/run.sh there"
