# culex: multi-stage build on the Node.js LTS slim image; runs as a non-root user.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# the pinned `node` devDependency is not needed inside an image that already runs Node 24
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
EXPOSE 1883
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["-c", "/app/config/docker.conf"]
