#!/usr/bin/env bash
# Removes the Podman objects a test run made, also when tests failed or were killed:
#
#   scripts/podman/sweep.sh snapshot FILE   record the containers, volumes, networks and secrets that exist now
#   scripts/podman/sweep.sh remove FILE     remove every such object not in FILE
#
# Images are kept on purpose (the offline images and build caches are reused by the next run).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
mode=${1:?usage: sweep.sh snapshot|remove FILE}
file=${2:?usage: sweep.sh snapshot|remove FILE}

# Only what stepwise and its tests name (stepwise-*), and anonymous volumes (64 hex digits,
# from images that declare a VOLUME): a user's own containers made meanwhile are not touched.
list() {
  {
    podman ps -a --format 'container {{.Names}}' 2>/dev/null || true
    podman volume ls --format 'volume {{.Name}}' 2>/dev/null || true
    podman network ls --format 'network {{.Name}}' 2>/dev/null || true
    podman secret ls --format 'secret {{.Name}}' 2>/dev/null || true
  } | grep -E '^[a-z]+ (stepwise-|[0-9a-f]{64}$)' || true
}

case "$mode" in
  snapshot) list | sort > "$file" ;;
  remove)
    [ -f "$file" ] || { echo "sweep.sh: no snapshot $file; nothing removed" >&2; exit 0; }
    left=$(list | sort | comm -13 "$file" -)
    [ -n "$left" ] || exit 0
    echo "sweep.sh: removing what the tests left: $(echo "$left" | awk '{print $1}' | sort | uniq -c | awk '{printf "%s %s(s) ", $1, $2}')" >&2
    # Containers first: volumes, networks and secrets in use cannot be removed.
    for kind in container volume network secret; do
      names=$(echo "$left" | awk -v k="$kind" '$1 == k { print $2 }')
      [ -n "$names" ] || continue
      case "$kind" in
        container) podman rm -f -t 0 $names >/dev/null 2>&1 || true ;;
        volume) podman volume rm -f $names >/dev/null 2>&1 || true ;;
        network) podman network rm -f $names >/dev/null 2>&1 || true ;;
        secret) podman secret rm $names >/dev/null 2>&1 || true ;;
      esac
    done
    ;;
  *) echo "usage: sweep.sh snapshot|remove FILE" >&2; exit 2 ;;
esac
