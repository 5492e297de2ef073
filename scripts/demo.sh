#!/usr/bin/env bash
# Deploys examples/demo-site (a web app + Postgres + a migration job) on local Podman and
# prints its URL. Works on a fresh machine with no image registry: images are built from
# Debian packages. Safe to run again: the second run changes nothing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
site="$root/examples/demo-site"

PATH=$("$root/scripts/bootstrap.sh")
export PATH

# Use a Podman API that already answers (STEPWISE_PODMAN_SOCKET, DOCKER_HOST or Podman's
# default sockets); otherwise start a private one with this machine's settings.
if [ -z "${STEPWISE_PODMAN_SOCKET:-}" ]; then
  STEPWISE_PODMAN_SOCKET=$("$root/scripts/podman/start.sh")
  export STEPWISE_PODMAN_SOCKET
fi
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/scripts/podman/containers.conf}"

echo "demo: building offline images from Debian packages (cached) ..." >&2
"$root/scripts/images/build.sh" >&2
"$root/scripts/podman/check-host.sh"

if [ ! -d "$site/app/node_modules/pg" ]; then
  echo "demo: installing the app's dependencies ..." >&2
  npm install --prefix "$site/app" --no-audit --no-fund --no-package-lock --loglevel=error >&2
fi

stepwise() { node "$root/apps/cli/bin/stepwise.js" "$@"; }
stepwise deploy -C "$site" --auto-approve
port=$(node -e 'const y=require("fs").readFileSync(process.argv[1],"utf8");const m=/^\s*port:\s*(\d+)/m.exec(y);console.log(m?m[1]:8080)' "$site/stepwise.yaml")
url="http://127.0.0.1:$port/"
for _ in $(seq 1 60); do curl -sf "$url" >/dev/null 2>&1 && break; sleep 1; done
echo
echo "The demo site is up: $url"
curl -sf "$url" | sed -n 's/.*<ul>\(.*\)<\/ul>.*/\1/p' | sed 's/<li>/\n  - /g; s/<[^>]*>//g' || true
echo
echo "Try: node apps/cli/bin/stepwise.js status -C examples/demo-site    (or plan, logs web, backup create, down)"
