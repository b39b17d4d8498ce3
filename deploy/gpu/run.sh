#!/usr/bin/env bash
# On the GPU host: reassemble the bundle from pack.sh and run the GPU proof (docs/benchmarks.md,
# "On a GPU") with EXECUTION_PROVIDER=cuda:
#   1. `npm run bench:model`: raw session.run per batch size, serving graph and the export as it is
#      (frames/s, bytes in and out per frame, host ms per frame);
#   2. `npm run bench:decode`: decoded 720p/1080p frames/s on this host's cores;
#   3. `npm run bench`: the naive server, Redis mode and embedded mode at 1 camera × 2 fps and at
#      8 / 32 / 64 cameras × 15 fps of 720p JPEGs, with GPU utilisation per level;
#   4. Redis mode again at 32 and 64 cameras with ENGINES=2.
# Sized to finish within 6 minutes, so a 15-minute device budget can run it twice. Prints the same
# tables; results land in $OUT (or ./gpu-results).
#
#   GPU_PARTS=/dir/with/parts bash deploy/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${GPU_DEST:-/tmp/vision-gpu}
PARTS=${GPU_PARTS:-.gpu}
RESULTS=${OUT:-$PWD/gpu-results}
FPS=${GPU_FPS:-15}
WORK=$(mktemp -d)
mkdir -p "$RESULTS"
# The tables and logs only (a device call brings back at most eight files); a failure's log tail.
finish() {
  local rc=$?
  for r in engines-1 engines-2; do
    cp "$WORK/$r/results.md" "$WORK/$r/results.json" "$RESULTS/" 2>/dev/null && mv "$RESULTS/results.md" "$RESULTS/$r.md" && mv "$RESULTS/results.json" "$RESULTS/$r.json"
    [ -f "$WORK/$r.log" ] && cp "$WORK/$r.log" "$RESULTS/" && [ "$rc" != 0 ] && tail -c 3000 "$WORK/$r.log"
  done
  return 0
}
trap finish EXIT
if [ ! -x "$DEST/node" ]; then
  mkdir -p "$DEST"
  cat "$PARTS"/bundle.tar.xz.part-* | xz -dc -T0 | tar -C "$DEST" -xf -
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
ORT_DIR="$DEST/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
# CUDA 13 and cuDNN 9 user-space libraries: a CUDA image's own, or the pip nvidia-* packages of a
# Python environment (PyTorch's). The first folder holding each library wins.
CUDA_LIBS=$(for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcufft.so.12 libcudnn.so.9; do
  find /usr/local/cuda*/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib -name "$lib" 2>/dev/null | head -1
done | xargs -r -n1 dirname | awk '!seen[$0]++' | paste -sd:)
export PATH="$DEST/redis:$DEST:$PATH"
export LD_LIBRARY_PATH="$ORT_DIR:$CUDA_LIBS:${LD_LIBRARY_PATH:-}"
echo "CUDA libraries from: $CUDA_LIBS"
if ldd "$ORT_DIR/libonnxruntime_providers_cuda.so" | grep 'not found'; then
  echo "the CUDA provider cannot load: the libraries above are missing" >&2
  exit 1
fi
redis-server --version
cd "$DEST/app"
MODEL=models/yolov8n-topology-640.onnx
# Fails loudly if CUDA cannot load: EXECUTION_PROVIDER=cuda never falls back to CPU by itself.
timeout 60 node apps/bench/dist/model-bench.js --provider cuda --model "$MODEL" --batches 1,8,32 --seconds 2 --out "$RESULTS/model-bench.json"
timeout 30 node apps/bench/dist/decode-bench.js --seconds 2 --out "$RESULTS/decode-bench.json"
COMMON=(--provider cuda --model "$MODEL" --max-batch 32 --images 720 --skip http,two-models,bulk)
timeout 200 node apps/bench/dist/compare.js "${COMMON[@]}" --batches 8,32 --cameras 8,32,64 \
  --low-rounds 2 --low-seconds 5 --fps "$FPS" --seconds 6 --out "$WORK/engines-1" 2>"$WORK/engines-1.log"
# Two sessions running batches at once (Triton's instance groups): does overlap pay on this GPU?
timeout 80 node apps/bench/dist/compare.js "${COMMON[@]}" --skip http,two-models,bulk,naive,embedded --batches 32 --cameras 32,64 \
  --low-rounds 0 --engines 2 --fps "$FPS" --seconds 6 --out "$WORK/engines-2" 2>"$WORK/engines-2.log"
