# Conveyor: one image for every role (api, worker, all). Multi-stage: build the SPA with the dev
# dependencies, then ship only production dependencies on a slim Node 24 runtime, as a non-root user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 MEDIA_ROOT=/data/media
# V8 grows the young generation to 64 MB under load and keeps it; 8 MB semi-spaces hold memory
# after 3,000 jobs to ~1.15x idle instead of ~1.65x, at no measured CPU per job (BENCHMARKS.md).
# npm start passes the same flag; bench/suite.ts reads it from this line.
ENV NODE_OPTIONS="--max-semi-space-size=8"
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/server ./server
COPY --from=build /app/worker ./worker
COPY --from=build /app/db ./db
COPY --from=build /app/seeds ./seeds
COPY --from=build /app/client/dist ./client/dist
RUN mkdir -p /data/media && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node directly (not npm) so SIGTERM reaches Conveyor and it shuts down gracefully.
CMD ["node", "server/cli.ts", "start"]
