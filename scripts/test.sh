#!/usr/bin/env bash
# The whole test suite, from a fresh clone: toolchain, install, build, the services the
# integration tests talk to (a private Podman API service), then vitest; services are
# stopped on exit. Extra arguments go to vitest (e.g. ./scripts/test.sh test/e2e).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

PATH=$("$root/scripts/bootstrap.sh")
export PATH

work="$root/test/.work"
mkdir -p "$work"
cleanup() {
  if [ -n "${STEPWISE_TEST_PODMAN_SOCKET:-}" ] && [ -x "$root/scripts/podman/stop.sh" ]; then
    "$root/scripts/podman/stop.sh" "$work/podman" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if [ -x "$root/scripts/podman/start.sh" ] && [ "${STEPWISE_SKIP_PODMAN:-}" != "1" ]; then
  echo "test: starting a private Podman service ..." >&2
  STEPWISE_TEST_PODMAN_SOCKET=$("$root/scripts/podman/start.sh" "$work/podman")
  export STEPWISE_TEST_PODMAN_SOCKET
  export CONTAINERS_CONF="$root/scripts/podman/containers.conf"
  if [ -x "$root/scripts/images/build.sh" ]; then
    echo "test: building offline images from Debian packages (cached) ..." >&2
    "$root/scripts/images/build.sh" >&2
  fi
fi

status=0
pnpm exec vitest run "$@" || status=$?
exit "$status"
