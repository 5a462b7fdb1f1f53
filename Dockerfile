# One image for every Node program of the project (orders, inventory, payments, shipping, the saga
# worker and the API). docker-compose.yml picks the program with `command`.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a source-only change reuses this layer. TypeScript runs directly through
# tsx (a runtime dependency), so there is no build step and no dev dependencies in the image.
# glibc (bookworm, not alpine) because @temporalio/core-bridge ships prebuilt gnu binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# Owned by root and only readable by the process: the programs never write into /app
# (tsx caches under /tmp; the worker bundles its workflows in memory).
COPY . .

USER node

# Default program; docker-compose.yml sets `command` explicitly for each service.
CMD ["node", "--import", "tsx", "worker.ts"]
