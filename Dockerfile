# Conveyor: one image for every role (api, worker, all) and the pg-boss dashboard.
# deps: the production dependencies only (a layer that changes only with package-lock.json).
# build: all dependencies, the SPA (Vite) and the server compiled to JavaScript (dist/).
# runtime: slim Node 24, non-root, compiled code only (no TypeScript at run time: type stripping
# costs memory in every thread and start-up time).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# typescript comes in as an optional peer of the dashboard's @react-router/node, unused at run time.
RUN npm ci --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# No secrets here: SECRET_KEY, ALLOWED_HOSTS and the database come from the environment at run time.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 MEDIA_ROOT=/data/media
# V8 grows the young generation to 64 MB under load and keeps it; 8 MB semi-spaces hold memory
# after 3,000 jobs to ~1.15x idle instead of ~1.65x, at no measured CPU per job (BENCHMARKS.md).
# npm start passes the same flag; bench/suite.ts reads it from this line.
ENV NODE_OPTIONS="--max-semi-space-size=8"
# One malloc arena for the whole process: glibc otherwise gives each thread (job threads, V8's and
# libuv's) its own 64 MB arena and returns little of it; after the same 12,000 jobs this holds
# ~15 MB less (BENCHMARKS.md), at no CPU per job beyond the noise of the A/B runs.
ENV MALLOC_ARENA_MAX=1
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/client/dist ./client/dist
RUN mkdir -p /data/media && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
# /healthz and /readyz answer on every role (a worker-only instance serves just these two) and are
# exempt from the ALLOWED_HOSTS check, so probing 127.0.0.1 works whatever ALLOWED_HOSTS says.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 (no npm in between): it receives SIGTERM itself, and Conveyor's handler stops
# gracefully (finishes in-flight requests and jobs within SHUTDOWN_GRACE_SECONDS) and exits 0.
CMD ["node", "dist/server/cli.js", "start"]
