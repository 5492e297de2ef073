#!/usr/bin/env bash
# Stops the registry scripts/azure/start-registry.sh DIR started and removes Podman's trust of
# its certificate (certs.d entry) and DIR. Idempotent.
#
#   scripts/azure/stop-registry.sh DIR
set -euo pipefail
dir=${1:?usage: stop-registry.sh DIR}
[ -d "$dir" ] || exit 0
if [ -f "$dir/registry.pid" ]; then
  pid=$(cat "$dir/registry.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
if [ -f "$dir/certs.d" ]; then rm -rf "$(cat "$dir/certs.d")"; fi
rm -rf "$dir"
