# The worker image. Workflows are bundled at start by the Temporal SDK; the code runs through tsx.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WORKER_MODE=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
USER node
# SIGTERM lets running activities finish before the worker stops (see stop_grace_period in docker-compose.yml).
CMD ["node", "--import", "tsx", "src/main.ts"]
