# dvcr container image. `npm run image` builds it with podman (image/build.sh); where Docker Hub
# is unreachable that script bootstraps an equivalent NODE_IMAGE from Debian packages first.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript and better-sqlite3 (a native module) ----
FROM ${NODE_IMAGE} AS build
# better-sqlite3's prebuilt binaries come from GitHub, which a build cannot count on reaching:
# compile it against the headers of the node in this image (/usr/local/include/node).
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /src
COPY package.json package-lock.json ./
# (npm 10 can exit 0 after failed fetches: check the native module really was built.)
RUN npm ci \
 && test -f node_modules/better-sqlite3/build/Release/better_sqlite3.node
COPY tsconfig.json tsconfig.image.json ./
COPY src ./src
RUN node_modules/.bin/tsc -p tsconfig.image.json \
 && npm prune --omit=dev \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src node_modules/better-sqlite3/build/Release/obj* \
 && chmod 0755 dist/src/cli/main.js

# ---- runtime ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    DVCR_CONFIG=/etc/dvcr/config.yml
WORKDIR /opt/dvcr
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY image/config.yml /etc/dvcr/config.yml
# xz-utils: `dvcr import` and `dvcr uploader` decompress .xz disks with the system's `xz -dc -T0`
# (multi-threaded liblzma); the slim base does not have it.
# A fixed numeric user (Kubernetes' runAsNonRoot checks the number), owning only the data volume.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends xz-utils \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /opt/dvcr/dist/src/cli/main.js /usr/local/bin/dvcr \
 && echo 'dvcr:x:10001:10001:dvcr:/var/lib/dvcr:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'dvcr:x:10001:' >> /etc/group \
 && mkdir -p /var/lib/dvcr \
 && chown 10001:10001 /var/lib/dvcr
USER 10001:10001
VOLUME /var/lib/dvcr
EXPOSE 5000
# /healthz answers while the process lives (a full or slow disk is /readyz's business);
# `dvcr healthcheck` finds the port and scheme in the same configuration as `serve`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["dvcr", "healthcheck"]
# Node is PID 1: dvcr handles SIGTERM and SIGINT itself (graceful shutdown, exit 0).
# The same image runs DVCR's per-image pods: args `import` (IMPORTER_* environment) or `uploader`
# (UPLOADER_* environment; /upload on LISTEN_PORT 8444, /healthz on HEALTHZ_PORT 8080, which the
# pod spec publishes; EXPOSE lists the registry's port only).
ENTRYPOINT ["dvcr"]
CMD ["serve"]
