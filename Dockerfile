# trustline runtime image: the compiled CLI (dist/) run by node directly, production dependencies only.
FROM node:20-slim AS build
WORKDIR /app
# npm 10 (bundled with node 20) ignores package.json allowScripts, so onnxruntime-node's GPU download
# is skipped through its own switch here (docs/decisions.md, "Packaging").
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
COPY packages/enforcer/package.json packages/enforcer/
# --ignore-scripts: the build below is run explicitly once the sources are there.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-assets.mjs scripts/
COPY packages/enforcer/tsconfig.json packages/enforcer/
COPY src src
COPY lab lab
RUN npm run build

# The example gateway of docker-compose.yml (examples/gateway, run through tsx from the build stage).
FROM build AS gateway
COPY examples examples
USER node
EXPOSE 8080 9465
ENTRYPOINT ["node", "--import", "tsx", "examples/gateway/main.ts"]

# The trustline image (the default target).
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/enforcer/package.json packages/enforcer/
# No dependency needs an install script at run time (onnxruntime-node ships its CPU binaries).
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
COPY --from=build /app/packages/enforcer/dist packages/enforcer/dist
COPY bin bin
COPY models/trustline-tailsum.json models/trustline-tailsum.onnx models/
COPY fixtures/demo fixtures/demo
COPY schemas schemas

# Run as the unprivileged user the node image provides.
USER node

# Health and metrics (GET /healthz, /readyz, /metrics); see TRUSTLINE_HTTP_HOST / TRUSTLINE_HTTP_PORT.
EXPOSE 9464

# node directly (not npx): signals reach trustline, and no npm notices on every start.
ENTRYPOINT ["node", "bin/trustline.js"]
CMD ["run"]
