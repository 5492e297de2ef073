#!/usr/bin/env bash
# Makes this checkout runnable on a fresh machine: a Node >= 22 (the system's when new enough,
# otherwise Node 24 + pnpm from the npm registry into the git-ignored .toolchain/), then
# `pnpm install` and a build. Prints the PATH to use; safe to run again (fast when done).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
toolchain="$root/.toolchain/node_modules/.bin"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
  :
elif [ -x "$toolchain/node" ] && [ "$(node_major "$toolchain/node")" -ge 22 ]; then
  export PATH="$toolchain:$PATH"
else
  command -v npm >/dev/null 2>&1 || { echo "bootstrap: npm is needed to fetch Node 24 (apt-get install -y npm)" >&2; exit 2; }
  echo "bootstrap: system Node is older than 22; installing Node 24 and pnpm into .toolchain/ ..." >&2
  npm install --prefix "$root/.toolchain" --no-audit --no-fund --loglevel=error node@24 pnpm@10 >&2
  export PATH="$toolchain:$PATH"
fi
if ! command -v pnpm >/dev/null 2>&1; then
  if [ ! -x "$toolchain/pnpm" ]; then
    echo "bootstrap: installing pnpm into .toolchain/ ..." >&2
    npm install --prefix "$root/.toolchain" --no-audit --no-fund --loglevel=error pnpm@10 >&2
  fi
  export PATH="$toolchain:$PATH"
fi

cd "$root"
stamp="$root/node_modules/.stepwise-install-stamp"
lock_hash=$(cat pnpm-lock.yaml package.json */*/package.json 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  pnpm install --frozen-lockfile --reporter=append-only >&2 || pnpm install --reporter=append-only >&2
  echo "$lock_hash" > "$stamp"
fi
pnpm exec turbo run build --output-logs=errors-only >&2
echo "$PATH"
