# trustline runtime image. TypeScript runs through tsx (bin/trustline.js), so there is no build
# step: install the locked dependencies and copy the sources.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, for layer caching. .npmrc carries install settings the lockfile relies on.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

# Run as the unprivileged user the node image provides.
USER node

# Health and metrics (GET /healthz, /metrics); see TRUSTLINE_HTTP_HOST / TRUSTLINE_HTTP_PORT.
EXPOSE 9464

CMD ["npx", "trustline", "run"]
