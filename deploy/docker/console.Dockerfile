# syntax=docker/dockerfile:1
# The site console (docs/console.md) as static files behind nginx, for Kubernetes
# (deploy/k8s/console.yaml). Build from the repository root:
#   docker build -f deploy/docker/console.Dockerfile -t vision-console .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY libs libs
COPY nx.json tsconfig.base.json tsconfig.json eslint.config.mjs ./
RUN npm ci --no-audit --no-fund && NX_DAEMON=false npx nx run console:build

# nginx as an unprivileged user, listening on 8080.
FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY --from=build /app/apps/console/dist /usr/share/nginx/console
COPY deploy/nginx/console.conf /etc/nginx/conf.d/default.conf
USER nginx
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
