# syntax=docker/dockerfile:1

# Build stage: needs the dev dependencies (nest CLI, TypeScript) that the
# runtime image must not carry.
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Manifests first, so the npm ci layer is reused until the dependencies change.
COPY package.json package-lock.json ./
RUN npm ci

COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

# Runtime stage: only the compiled app and its production dependencies.
FROM node:24-bookworm-slim AS runtime
WORKDIR /app

# Outside a container the daemon binds loopback; here it must listen on every
# interface for the published port to reach it. That makes a token mandatory
# (or EXAI_WS_ALLOW_INSECURE=true), which the daemon enforces at boot.
ENV NODE_ENV=production \
    EXAI_WS_HOST=0.0.0.0 \
    EXAI_WS_PORT=8079

# The base image's unprivileged "node" user owns the app, so a compromised
# process cannot rewrite it as root.
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist

USER node
EXPOSE 8079

# The slim image has no curl or wget; node's own fetch avoids adding them.
# /health/live only checks the event loop, so a missing provider key does not
# get the container restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.EXAI_WS_PORT||8079)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM directly, so shutdown ends
# in-flight calls cleanly instead of being killed after docker's grace period.
CMD ["node", "dist/main.js"]
