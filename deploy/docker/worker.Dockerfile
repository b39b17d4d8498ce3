# syntax=docker/dockerfile:1
# A CPU inference worker. Models are mounted, never baked in: MODEL_PATH names the file.
#   docker build -f deploy/docker/worker.Dockerfile -t vision-worker .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
RUN npm ci --no-audit --no-fund && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf apps/*/src apps/*/test libs/*/src libs/*/test apps/bench apps/server apps/edge

FROM ${NODE_IMAGE}
ENV NODE_ENV=production METRICS_PORT=9464 EXECUTION_PROVIDER=cpu
WORKDIR /app
COPY --from=build /app /app
USER node
VOLUME ["/models"]
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "--single-threaded-gc", "apps/worker/dist/main.js"]
