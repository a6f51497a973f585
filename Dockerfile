# culex: multi-stage build on the Node.js 24 LTS slim image; runs as the image's non-root `node` user.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# exactly the lock file; dev dependencies (the pinned `node` among them: the image is Node 24) stay out
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY config ./config

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# every listener config/docker.conf opens: MQTT, and the metrics listener (/metrics, /healthz)
EXPOSE 1883 9234
# /healthz answers 200 while every worker runs and the broker is not stopping, 503 otherwise
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9234/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `docker run IMAGE passwd …` and `docker run IMAGE check -c FILE` reach the subcommands
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["-c", "/app/config/docker.conf"]
