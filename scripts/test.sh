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
  if [ -n "${STEPWISE_TEST_PODMAN_SOCKET:-}" ]; then
    # Whatever a failed or killed test left (containers, volumes, networks, secrets) goes.
    "$root/scripts/podman/sweep.sh" remove "$work/podman-before.txt" || true
    "$root/scripts/podman/stop.sh" "$work/podman" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if [ "${STEPWISE_SKIP_PODMAN:-}" != "1" ]; then
  echo "test: starting a private Podman service ..." >&2
  STEPWISE_TEST_PODMAN_SOCKET=$("$root/scripts/podman/start.sh" "$work/podman")
  export STEPWISE_TEST_PODMAN_SOCKET
  export CONTAINERS_CONF="$root/scripts/podman/containers.conf"
  echo "test: building offline images from Debian packages (cached) ..." >&2
  "$root/scripts/images/build.sh" >&2
  # A host that cannot run a container fails here, naming what is missing, not in the 40th test.
  "$root/scripts/podman/check-host.sh"
  "$root/scripts/podman/sweep.sh" snapshot "$work/podman-before.txt"
fi

status=0
report="$work/vitest-report.json"
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line that any CI reads: "tests: N passed, N failed, N skipped".
if [ -f "$report" ]; then
  node -e 'const r = require(process.argv[1]);
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
    if (r.numTotalTests === 0) { console.error("no test ran"); process.exitCode = 1; }' "$report" || status=1
fi
exit "$status"
