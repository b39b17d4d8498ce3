# syntax=docker/dockerfile:1
# A GPU inference worker: the same app on NVIDIA's CUDA runtime with cuDNN, plus ONNX Runtime's
# CUDA provider of the same version as onnxruntime-node (package-lock.json pins it). ORT 1.29's
# provider links CUDA 13 (cuBLAS/cuBLASLt 13, cuRAND 10, cudart 13) and cuDNN 9.
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t vision-worker-gpu .
ARG NODE_IMAGE=node:24-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04

FROM ${NODE_IMAGE} AS node

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
# The provider comes from ORT's own install script, run on purpose here (npm skips it elsewhere):
# its files land in node_modules/onnxruntime-node/bin next to the CPU build of the same version.
RUN npm ci --no-audit --no-fund \
 && node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12 \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf apps/*/src apps/*/test libs/*/src libs/*/test apps/bench apps/server apps/edge

FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system vision && useradd --system --gid vision --home /app vision
ENV NODE_ENV=production METRICS_PORT=9464 EXECUTION_PROVIDER=cuda \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=build /app /app
USER vision
VOLUME ["/models"]
EXPOSE 9464
# EXECUTION_PROVIDER=cuda never falls back to CPU by itself: a worker that cannot load CUDA fails
# to start (E_PROVIDER_UNAVAILABLE) instead of serving slowly.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "apps/worker/dist/main.js"]
