# syntax=docker/dockerfile:1
# The site events service (docs/events.md). Build from the repository root:
#   docker build -f deploy/docker/events.Dockerfile -t vision-events .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
RUN npm ci --no-audit --no-fund && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf apps/*/src apps/*/test libs/*/src libs/*/test apps/bench apps/server apps/worker apps/edge

FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=8080 METRICS_PORT=9467
WORKDIR /app
COPY --from=build /app /app
# The snapshot volume's mount point, owned by the user the service runs as (a new named volume takes it).
RUN mkdir -p /var/lib/vision/snapshots && chown node:node /var/lib/vision/snapshots
USER node
EXPOSE 8080 9467
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9467)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: the last checkpoint is written and the shard leases are given back, so another
# instance takes over at once instead of after EVENTS_LEASE_MS.
STOPSIGNAL SIGTERM
CMD ["node", "apps/events/dist/main.js"]
