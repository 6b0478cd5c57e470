# consentgate as a container: `docker build -t consentgate .` — the compiled CLI and its production dependencies,
# run as the unprivileged `node` user. docker-compose.yml runs it with the whole stack.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production \
    CONSENTGATE_OPS_HOST=0.0.0.0 \
    CONSENTGATE_HTTP_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schemas ./schemas
COPY topologies ./topologies
# The embedded key and DPIA stores (without DATABASE_URL) and the jar cache live under .cache.
RUN mkdir -p .cache && chown node:node .cache
USER node
# 9465: /healthz, /readyz, /metrics; 8088: the HTTP intake (consent-intake, eventbridge-http connectors).
EXPOSE 9465 8088
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:9465/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["node", "bin/consentgate.js"]
CMD ["run"]
