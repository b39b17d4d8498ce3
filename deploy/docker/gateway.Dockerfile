# syntax=docker/dockerfile:1
# The camera gateway (docs/cameras.md): pulls RTSP / HTTP / file cameras with ffmpeg and streams
# their frames to the edges. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t vision-gateway .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
RUN npm ci --no-audit --no-fund && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf apps/*/src apps/*/test libs/*/src libs/*/test apps/bench apps/server apps/worker apps/edge apps/events

FROM ${NODE_IMAGE}
# Debian's ffmpeg (5.1 on bookworm): one child per camera decodes and cuts frames. For hardware
# decoding (FFMPEG_HWACCEL) build on an image whose ffmpeg has the accelerator's libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /cameras && chown node:node /cameras
ENV NODE_ENV=production GATEWAY_PORT=8090 METRICS_PORT=9466 CAMERAS_FILE=/cameras/cameras.json
WORKDIR /app
COPY --from=build /app /app
# The recordings volume's mount point, owned by the user the gateway runs as (a new named volume takes it).
RUN mkdir -p /var/lib/vision/recordings && chown node:node /var/lib/vision/recordings
USER node
# The cameras file lives here (a volume): the API's changes are written back to it.
VOLUME /cameras
EXPOSE 8090 9466
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9466)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM stops every camera: ffmpeg children get SIGTERM, then SIGKILL after FFMPEG_KILL_GRACE_MS.
STOPSIGNAL SIGTERM
CMD ["node", "apps/gateway/dist/main.js"]
