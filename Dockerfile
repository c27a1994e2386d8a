# The worker image (also runs the codec server). Node 24 LTS; production dependencies only: the
# dependencies are installed in a build stage with `npm ci --omit=dev` (no test tooling, no type
# checker, no `node` package), and the final stage gets them and the sources, nothing else.
# Workflows are bundled at start by the Temporal SDK; the code runs through tsx.
FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WORKER_MODE=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
USER node
# SIGTERM lets running activities finish before the worker stops (see stop_grace_period in docker-compose.yml).
CMD ["node", "--import", "tsx", "src/worker/main.ts"]
