# Helpers for scripts/images/build.sh (sourced, not run). Build root filesystems from Debian
# packages without any image registry: `apt-get download` + `dpkg-deb -x`, plus the shared
# libraries that `ldd` names for the ELF files we ship.

log() { echo "images: $*" >&2; }

# fetch_deb NAME -> prints the path of NAME's .deb in $deb_cache (downloads it when absent).
fetch_deb() {
  local name=$1 version file
  version=$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    log "no candidate for Debian package $name; run: apt-get update"
    return 1
  fi
  # .deb file names escape ':' (epochs) as %3a.
  file=$(ls "$deb_cache/${name}_"*"${version#*:}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    log "downloading $name $version"
    if ! (cd "$deb_cache" && apt-get download -q -o APT::Sandbox::User=root "$name=$version" >&2); then
      # Stale package lists name versions the mirror no longer has.
      log "download failed; refreshing package lists"
      apt-get update >&2
      (cd "$deb_cache" && apt-get download -q -o APT::Sandbox::User=root "$name" >&2)
    fi
    file=$(ls -t "$deb_cache/${name}_"*.deb | head -n1)
  fi
  echo "$file"
}

# extract_deb NAME DIR: unpack the package's files into DIR.
extract_deb() {
  local deb
  deb=$(fetch_deb "$1")
  dpkg-deb -x "$deb" "$2"
}

# package_version NAME: the version build.sh would use (part of the recipe hash).
package_version() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

# lib_deps PACKAGE...: the lib* packages PACKAGEs depend on directly.
lib_deps() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
    awk '$1 ~ /Depends:/ && $2 ~ /^(lib|zlib)/ {print $2}' | sort -u
}

# missing_libs ROOTFS FILE...: sonames ldd cannot resolve (rootfs and staging libs first, then the host).
missing_libs() {
  local rootfs=$1; shift
  local f
  for f in "$@"; do LD_LIBRARY_PATH="$(lib_search_path "$rootfs")" ldd "$f" 2>/dev/null | awk '/not found/ {print $1}'; done | sort -u
}

lib_search_path() {
  local rootfs=$1 search="" d
  for d in "$rootfs"/usr/lib/x86_64-linux-gnu "$rootfs"/usr/lib/postgresql/*/lib "$work/lib-staging"/usr/lib/x86_64-linux-gnu "$work/lib-staging"/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && search="$search:$d"
  done
  echo "${search#:}"
}

# copy_libs ROOTFS FILE...: copy every shared library the FILEs need (per ldd) into ROOTFS at
# the same path. Libraries in ROOTFS are searched first (LD_LIBRARY_PATH), then the host's.
# When the host lacks some (a fresh machine has no libjemalloc2, libicu72 ...), the lib*
# dependencies of $LIB_FALLBACK_PACKAGES are unpacked into a staging dir, one dependency
# level per round, until ldd resolves everything (at most 4 rounds).
copy_libs() {
  local rootfs=$1; shift
  local staging="$work/lib-staging" missing round=0 level seen="" p
  level=${LIB_FALLBACK_PACKAGES:-}
  missing=$(missing_libs "$rootfs" "$@")
  while [ -n "$missing" ] && [ -n "$level" ] && [ $round -lt 4 ]; do
    round=$((round + 1))
    log "host lacks $(echo $missing | tr '\n' ' '); unpacking library packages (round $round)"
    mkdir -p "$staging"
    local next=""
    for p in $(lib_deps $level); do
      case " $seen " in *" $p "*) continue ;; esac
      seen="$seen $p"
      extract_deb "$p" "$staging"
      next="$next $p"
    done
    level=$next
    missing=$(missing_libs "$rootfs" "$@")
  done
  if [ -n "$missing" ]; then
    log "shared libraries not found: $(echo $missing | tr '\n' ' ')"
    return 1
  fi
  local f lib dest
  for f in "$@"; do LD_LIBRARY_PATH="$(lib_search_path "$rootfs")" ldd "$f" 2>/dev/null; done |
    awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
    while read -r lib; do
      # Keep the path the loader asks for; copy the file behind symlinks.
      dest="$rootfs${lib}"
      case "$lib" in "$rootfs"/*) continue ;; "$staging"/*) dest="$rootfs${lib#"$staging"}" ;; esac
      [ -e "$dest" ] && continue
      mkdir -p "$(dirname "$dest")"
      cp -L "$lib" "$dest"
    done
}

# elf_files DIR...: the dynamically linked ELF files under DIRs.
elf_files() {
  find "$@" -type f \( -perm -u+x -o -name '*.so*' \) 2>/dev/null | while read -r f; do
    head -c 4 "$f" 2>/dev/null | grep -q 'ELF' && echo "$f"
  done
}

# base_rootfs DIR: busybox-static with its applets as symlinks, a passwd/group with root,
# nobody and postgres (999), /tmp, /run.
base_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,run,root,home,var/tmp,dev,proc,sys}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  ln -sfn ../run "$rootfs/var/run"
  local bb="$work/busybox"
  [ -x "$bb/bin/busybox" ] || { mkdir -p "$bb"; extract_deb busybox-static "$bb"; }
  cp "$bb/bin/busybox" "$rootfs/bin/busybox"
  local applet
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] && continue
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
postgres:x:999:
app:x:1000:
nogroup:x:65534:
GROUP
  echo "hosts: files dns" > "$rootfs/etc/nsswitch.conf"
  mkdir -p "$rootfs/home/app" && chown 1000:1000 "$rootfs/home/app"
}

# import_rootfs DIR TAG [--change ...]: tar DIR and `podman import` it as TAG.
import_rootfs() {
  local rootfs=$1 tag=$2; shift 2
  log "importing $tag"
  tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  podman import --quiet "$@" "$work/rootfs.tar" "$tag" >/dev/null
  rm -f "$work/rootfs.tar"
}
