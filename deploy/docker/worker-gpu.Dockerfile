# syntax=docker/dockerfile:1
# A GPU inference worker: the same app on NVIDIA's CUDA runtime with cuDNN, plus ONNX Runtime's
# CUDA provider of the same version as onnxruntime-node (1.29.0, pinned in package-lock.json): the
# npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 carries it, built for CUDA 13
# (cuBLAS/cuBLASLt 13, cuRAND 10, cudart 13) and cuDNN 9 — the libraries of the base image.
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
# The provider libraries go next to the binding, where ONNX Runtime looks for them (the same step
# as deploy/gpu/pack.sh). onnxruntime-node's own install script is not used: its download is
# CUDA 12 and unpinned.
RUN npm ci --no-audit --no-fund \
 && npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 \
 && tar -xzf com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz \
 && find package -name 'libonnxruntime_providers_*.so' -exec cp {} node_modules/onnxruntime-node/bin/napi-v6/linux/x64/ \; \
 && rm -rf package ./*.tgz \
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
CMD ["node", "--single-threaded-gc", "apps/worker/dist/main.js"]
