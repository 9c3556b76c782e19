# pushwake with the embedded SIP engine and the embedded store.
#   docker build -t pushwake .
#   docker run --rm -p 5060:5060/udp -p 5060:5060/tcp -v pushwake-data:/data \
#     -e PUSHWAKE_UPSTREAM_REGISTRAR=sip:pbx.example.com:5060 \
#     -e PUSHWAKE_SIP_ADVERTISED_HOST=pushwake.example.com:5060 pushwake
# To use an external drachtio-server instead, set PUSHWAKE_ENGINE_MODE=external and
# PUSHWAKE_ENGINE_HOST / PUSHWAKE_ENGINE_PORT / PUSHWAKE_ENGINE_SECRET.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY config ./config
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    PUSHWAKE_SIP_LISTEN='[{"address":"0.0.0.0","port":5060,"transports":["udp","tcp"]}]' \
    PUSHWAKE_STORE_PATH=/data/pushwake
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 5060/udp 5060/tcp
USER node
ENTRYPOINT ["node", "dist/lib/cli.js"]
CMD ["start"]
