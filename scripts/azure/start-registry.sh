#!/usr/bin/env bash
# Starts a private container registry for the azure tests: Debian's `docker-registry`
# (the CNCF distribution registry) serving the registry API on 127.0.0.1 over TLS, with
# htpasswd (basic) auth for one user. It stands in for Azure Container Registry: the tests'
# Resource Manager returns its address as the registry's loginServer, and Podman pushes to it.
#
#   scripts/azure/start-registry.sh DIR CERT KEY PORT USER
#
# CERT/KEY: a PEM certificate (self-signed, CA:TRUE) for 127.0.0.1 and its key. Podman trusts
# it through containers' certs.d (/etc/containers/certs.d/127.0.0.1:PORT/ca.crt as root,
# ~/.config/containers/certs.d otherwise); stop-registry.sh removes that again.
# The password is random, written to DIR/password (0600) and never printed or put in argv.
# Installs docker-registry and apache2-utils (htpasswd) when missing. Prints 127.0.0.1:PORT.
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: start-registry.sh DIR CERT KEY PORT USER" >&2
  exit 2
fi
dir=$1 cert=$2 key=$3 port=$4 user=$5
mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)
chmod 700 "$dir"

if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
  echo "start-registry.sh: installing docker-registry apache2-utils ..." >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update >&2
  # The package's service is not started (no init here); this script runs its own instance.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends docker-registry apache2-utils >&2
fi

umask 077
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
# -i: the password from stdin (not argv); -B: bcrypt, the only hash the registry accepts.
htpasswd -B -i -c "$dir/htpasswd" "$user" < "$dir/password" 2>/dev/null
cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  relativeurls: true
  tls:
    certificate: $cert
    key: $key
auth:
  htpasswd:
    realm: stepwise-test-registry
    path: $dir/htpasswd
YAML

if [ "$(id -u)" -eq 0 ]; then certs=/etc/containers/certs.d; else certs=${XDG_CONFIG_HOME:-$HOME/.config}/containers/certs.d; fi
mkdir -p "$certs/127.0.0.1:$port"
cp "$cert" "$certs/127.0.0.1:$port/ca.crt"
echo "$certs/127.0.0.1:$port" > "$dir/certs.d"

setsid docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
echo $! > "$dir/registry.pid"
for _ in $(seq 1 80); do
  # /v2/ answers 401 (auth required) once the registry is up.
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$cert" "https://127.0.0.1:$port/v2/" || true)
  if [ "$code" = "401" ] || [ "$code" = "200" ]; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
    echo "start-registry.sh: docker-registry exited; last log lines:" >&2
    tail -n 20 "$dir/registry.log" >&2 || true
    exit 1
  fi
  sleep 0.25
done
echo "start-registry.sh: the registry did not answer on https://127.0.0.1:$port within 20s; see $dir/registry.log" >&2
exit 1
