# syntax=docker/dockerfile:1
# The stateless WebSocket edge. Build from the repository root:
#   docker build -f deploy/docker/edge.Dockerfile -t vision-edge .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
RUN npm ci --no-audit --no-fund && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf apps/*/src apps/*/test libs/*/src libs/*/test apps/bench apps/server apps/worker

FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=8080 METRICS_PORT=9464
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains: open frames finish (SHUTDOWN_GRACE_MS), sockets close with 1001.
STOPSIGNAL SIGTERM
CMD ["node", "apps/edge/dist/main.js"]
