# syntax=docker/dockerfile:1
# Benteng API and worker image (one image, two commands). Node 24 LTS.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./

COPY prisma ./prisma
COPY apps/dev ./apps/dev
RUN npm ci --no-audit --no-fund
COPY . .
# The Prisma client is generated (postinstall) and compiled into dist/ here; the runtime needs neither
# the Prisma CLI nor the embedded PostgreSQL (both devDependencies). `npm prune --omit=dev` keeps
# devDependencies that are optional peers of production packages (the Prisma CLI, TypeScript):
# prune-production.mjs removes those too (apps/dev/lib/production-deps.mjs).
RUN npm run build && npm prune --omit=dev && node apps/dev/prune-production.mjs

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
# Run as the image's unprivileged user; nothing in /app is writable by it.
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/prisma ./prisma
COPY --from=build --chown=root:root /app/package.json ./package.json
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/apps/api/src/main.js"]
