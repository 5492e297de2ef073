#!/usr/bin/env bash
# Builds stepwise's offline images from Debian packages (no image registry needed):
#
#   scripts/images/build.sh [busybox|postgres|redis|node|all]...     (default: all)
#
#   localhost/stepwise/base-busybox   busybox-static, users root/postgres(999)/app(1000)
#   localhost/stepwise/postgres:15    postgresql-15 server; env POSTGRES_USER, POSTGRES_PASSWORD_FILE,
#                                     POSTGRES_DB (comma list); volume /var/lib/postgresql/data; 5432
#   localhost/stepwise/redis:7        Debian's redis 7 server + redis-cli; runs as uid 999; /data
#   localhost/stepwise/node           the node binary running this script (or $STEPWISE_NODE_BINARY)
#
# Each image is also tagged with a hash of its recipe (`:r-<hash>`); when that tag exists the
# build is skipped, so re-running is cheap. Prints the built/kept image names, one per line.
# Downloads land in $STEPWISE_IMAGE_CACHE (default test/.work/images). Needs root (dpkg-deb -x
# ownership, podman root storage) and apt access to Debian mirrors.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/scripts/podman/containers.conf}"
cache=${STEPWISE_IMAGE_CACHE:-$root/test/.work/images}
deb_cache="$cache/debs"
mkdir -p "$deb_cache"
# Parallel callers serialise here; the later ones find the images built.
exec 9>"$cache/build.lock"
flock 9
# shellcheck source=lib.sh
source "$here/lib.sh"

command -v podman >/dev/null 2>&1 || { log "podman is missing; run: scripts/podman/start.sh (installs it)"; exit 2; }
if [ -z "$(package_version busybox-static)" ] || [ "$(package_version busybox-static)" = "(none)" ]; then
  apt-get update >&2
fi

recipe_hash() { { cat "$here/build.sh" "$here/lib.sh"; printf '%s\n' "$@"; } | sha256sum | cut -c1-12; }

# build_image NAME TAG HASH FUNCTION: run FUNCTION ROOTFS and import unless TAG's recipe tag exists.
build_image() {
  local name=$1 tag=$2 hash=$3 fn=$4; shift 4
  local recipe_tag="$name:r-$hash"
  if podman image exists "$recipe_tag"; then
    podman tag "$recipe_tag" "$tag" >/dev/null
    log "$tag is up to date ($recipe_tag)"
    echo "$tag"
    return
  fi
  work=$(mktemp -d "$cache/work.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  local rootfs="$work/rootfs"
  mkdir -p "$rootfs"
  "$fn" "$rootfs"
  import_rootfs "$rootfs" "$recipe_tag" "$@"
  podman tag "$recipe_tag" "$tag" >/dev/null
  log "built $tag ($recipe_tag)"
  echo "$tag"
}

busybox_rootfs() { base_rootfs "$1"; }
build_busybox() {
  build_image localhost/stepwise/base-busybox localhost/stepwise/base-busybox:latest \
    "$(recipe_hash busybox "$(package_version busybox-static)")" busybox_rootfs \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'CMD ["/bin/sh"]'
}

postgres_rootfs() {
  local rootfs=$1
  base_rootfs "$rootfs"
  local pg="$work/pg"
  mkdir -p "$pg"
  extract_deb postgresql-15 "$pg"
  extract_deb postgresql-client-15 "$pg"
  extract_deb libpq5 "$pg"
  # JIT pulls in LLVM (~100 MB) and is switched off; test/debug extensions are not needed.
  rm -rf "$pg"/usr/lib/postgresql/15/lib/llvmjit* "$pg"/usr/lib/postgresql/15/lib/bitcode
  mkdir -p "$rootfs/usr/lib/postgresql" "$rootfs/usr/share/postgresql" "$rootfs/usr/lib/x86_64-linux-gnu"
  cp -a "$pg/usr/lib/postgresql/15" "$rootfs/usr/lib/postgresql/15"
  cp -a "$pg/usr/share/postgresql/15" "$rootfs/usr/share/postgresql/15"
  cp -a "$pg"/usr/lib/x86_64-linux-gnu/libpq.so.5* "$rootfs/usr/lib/x86_64-linux-gnu/"
  # Debian's build reads time zones from the system; ship UTC only (TZ=UTC below).
  local tz="$work/tz"
  if [ -f /usr/share/zoneinfo/UTC ]; then tz=/; else mkdir -p "$tz"; extract_deb tzdata "$tz"; fi
  mkdir -p "$rootfs/usr/share/zoneinfo/Etc"
  cp -L "$tz/usr/share/zoneinfo/UTC" "$rootfs/usr/share/zoneinfo/UTC"
  cp -L "$tz/usr/share/zoneinfo/UTC" "$rootfs/usr/share/zoneinfo/Etc/UTC"
  cp -L "$tz/usr/share/zoneinfo/UTC" "$rootfs/usr/share/zoneinfo/GMT"
  LIB_FALLBACK_PACKAGES="postgresql-15 postgresql-client-15" copy_libs "$rootfs" $(elf_files "$rootfs/usr/lib/postgresql/15")
  mkdir -p "$rootfs/usr/local/bin"
  install -m 755 "$here/postgres/entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$rootfs/var/lib/postgresql/data" "$rootfs/run/postgresql"
  chown -R 999:999 "$rootfs/var/lib/postgresql" "$rootfs/run/postgresql"
  chmod 700 "$rootfs/var/lib/postgresql/data"
}
build_postgres() {
  build_image localhost/stepwise/postgres localhost/stepwise/postgres:15 \
    "$(recipe_hash postgres "$(package_version busybox-static)" "$(package_version postgresql-15)" "$(package_version postgresql-client-15)" "$(package_version libpq5)" "$(cat "$here/postgres/entrypoint.sh")")" \
    postgres_rootfs \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV TZ=UTC' --change 'ENV LANG=C.UTF-8' \
    --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' --change 'STOPSIGNAL SIGINT' \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
}

redis_rootfs() {
  local rootfs=$1
  base_rootfs "$rootfs"
  local rt="$work/redis"
  mkdir -p "$rt" "$rootfs/usr/bin" "$rootfs/data"
  extract_deb redis-tools "$rt"
  # Debian's redis-server is redis-check-rdb under another name (it dispatches on argv[0]).
  cp "$rt/usr/bin/redis-check-rdb" "$rootfs/usr/bin/redis-server"
  cp "$rt/usr/bin/redis-cli" "$rootfs/usr/bin/redis-cli"
  LIB_FALLBACK_PACKAGES="redis-tools" copy_libs "$rootfs" "$rootfs/usr/bin/redis-server" "$rootfs/usr/bin/redis-cli"
  chown 999:999 "$rootfs/data"
}
build_redis() {
  build_image localhost/stepwise/redis localhost/stepwise/redis:7 \
    "$(recipe_hash redis "$(package_version busybox-static)" "$(package_version redis-tools)")" redis_rootfs \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'WORKDIR /data' \
    --change 'VOLUME /data' --change 'EXPOSE 6379' --change 'USER 999' --change 'CMD ["redis-server", "--protected-mode", "no"]'
}

node_binary() { echo "${STEPWISE_NODE_BINARY:-$(command -v node)}"; }
node_rootfs() {
  local rootfs=$1 node
  node=$(node_binary)
  base_rootfs "$rootfs"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/app"
  cp -L "$node" "$rootfs/usr/local/bin/node"
  copy_libs "$rootfs" "$rootfs/usr/local/bin/node"
  chown 1000:1000 "$rootfs/app"
}
build_node() {
  local node version
  node=$(node_binary)
  [ -x "$node" ] || { log "no node binary; set STEPWISE_NODE_BINARY"; exit 2; }
  version=$("$node" --version)
  build_image localhost/stepwise/node localhost/stepwise/node:latest \
    "$(recipe_hash node "$(package_version busybox-static)" "$version" "$(sha256sum < "$node")")" node_rootfs \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'WORKDIR /app' \
    --change 'USER 1000' --change 'CMD ["node"]'
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    busybox) build_busybox ;;
    postgres) build_postgres ;;
    node) build_node ;;
    redis) build_redis ;;
    all) build_busybox; build_postgres; build_node; build_redis ;;
    *) log "unknown image $t (busybox|postgres|redis|node|all)"; exit 2 ;;
  esac
done
