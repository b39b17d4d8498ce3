#!/usr/bin/env bash
# On the GPU host: reassemble the bundle from pack.sh and run the same comparison as `npm run bench`
# with EXECUTION_PROVIDER=cuda: raw ORT per batch size, then the naive server, Redis mode and
# embedded mode at 1 camera low-rate and 1/8/32 cameras, then `npm run bench:shapes` (batch-size
# changes), then Redis mode again with ENGINES=2.
# Sized to finish within 7 minutes. Prints the same tables; results land in $OUT (or ./gpu-results).
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
# Sixteen cores decode far more than libuv's default four threads let sharp run at once.
export UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-16}
echo "CUDA libraries from: $CUDA_LIBS"
if ldd "$ORT_DIR/libonnxruntime_providers_cuda.so" | grep 'not found'; then
  echo "the CUDA provider cannot load: the libraries above are missing" >&2
  exit 1
fi
redis-server --version
cd "$DEST/app"
COMMON=(--provider cuda --model models/yolov8n-topology-640.onnx --decode-concurrency 12 --max-batch 32 --skip http,two-models,bulk)
# Fails loudly if CUDA cannot load: EXECUTION_PROVIDER=cuda never falls back to CPU by itself.
timeout 280 node apps/bench/dist/compare.js "${COMMON[@]}" --batches 1,8,16,32 --cameras 1,8,32 \
  --low-rounds 2 --low-seconds 5 --fps "$FPS" --seconds 6 --out "$WORK/engines-1" 2>"$WORK/engines-1.log"
# What a change of batch size between runs costs, on one session and on a session per size.
timeout 120 node apps/bench/dist/shape-switch.js --provider cuda --model models/yolov8n-topology-640.onnx
# Two sessions running batches at once (Triton's instance groups): does overlap pay on this GPU?
timeout 110 node apps/bench/dist/compare.js "${COMMON[@]}" --skip http,two-models,bulk,naive,embedded --batches 32 --cameras 32 \
  --low-rounds 0 --engines 2 --fps "$FPS" --seconds 6 --out "$WORK/engines-2" 2>"$WORK/engines-2.log"
