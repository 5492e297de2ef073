#!/usr/bin/env bash
# Stops the podman service that scripts/podman/start.sh started in DIR (same default).
# Containers keep running (they belong to podman, not to the API service). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-${STEPWISE_PODMAN_DIR:-$root/test/.work/podman}}
pidfile="$dir/podman.pid"
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
fi
rm -f "$dir/podman.sock"
echo "stop.sh: stopped podman service in $dir" >&2
