# The gateway's image. test/deploy/container-files.test.ts checks that the commands below
# are the ones package.json and CI run, and runs the health check against a live server.

# Build: all dependencies, the generated Prisma client and dist/ (npm ci's postinstall).
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/ scripts/
COPY prisma/ prisma/
COPY src/ src/
RUN npm ci

# Run: production dependencies only, the compiled service (the Prisma client is compiled
# into dist/) and the migrations that `node dist/migrate.js` and MIGRATE_ON_START apply.
# --omit=optional as well: the Prisma CLI and TypeScript are optional peers of
# @prisma/client, which --omit=dev alone would keep.
FROM node:20.20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/ scripts/
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY --from=build /app/dist/ dist/
COPY prisma/migrations/ prisma/migrations/
# The embedded demo database (no DATABASE_URL) keeps its files here.
RUN mkdir .data && chown node:node .data
USER node
# Every interface: a published port reaches the container from outside, never as 127.0.0.1
# (which is what the service listens on by default with the embedded demo database). The
# demo's key stays safe all the same: GraphiQL fills it in only for a browser on loopback
# inside the container, and /metrics answers only there without METRICS_TOKEN/METRICS_PORT.
ENV PORT=4000 HOST=0.0.0.0 NODE_OPTIONS=--max-old-space-size=256
EXPOSE 4000
# Liveness: /healthz answers 200 while the process serves (it does not touch the database).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# node itself, not npm start: SIGTERM reaches the service, which drains before it exits.
CMD ["node", "dist/server.js"]
