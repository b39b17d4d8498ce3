#!/usr/bin/env bash
# On the GPU host: reassemble the bundle from pack.sh and run the same comparison as `npm run bench`
# with EXECUTION_PROVIDER=cuda, sized to finish within 5 minutes. Prints the same tables; results
# land in $OUT (or ./gpu-results).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${GPU_DEST:-/tmp/vision-gpu}
RESULTS=${OUT:-$PWD/gpu-results}
if [ ! -x "$DEST/node" ]; then
  mkdir -p "$DEST"
  cat .gpu/bundle.tar.xz.part-* | tar -C "$DEST" -xJf -
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
export PATH="$DEST:$PATH"
export LD_LIBRARY_PATH="$DEST/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64:${LD_LIBRARY_PATH:-}"
cd "$DEST/app"
# Fails loudly if CUDA cannot load: EXECUTION_PROVIDER=cuda never falls back to CPU by itself.
timeout 290 node apps/bench/dist/compare.js --provider cuda --batches 1,8,16,32 --cameras 1,8,32 --low-rounds 1 --low-seconds 6 \
  --fps 30 --seconds 6 --max-batch 32 --out "$RESULTS"
