#!/usr/bin/env bash
# Starts a private container registry for the azure tests: Debian's `docker-registry`
# (the CNCF distribution registry) serving the registry API on 127.0.0.1 over TLS, with token
# auth as Azure Container Registry has it: `/v2/` answers 401 with a Bearer challenge naming
# REALM, whose token service (the tests' Resource Manager, test/azure/arm-server/registry-tokens.ts)
# issues JWTs signed with KEY that the registry checks against CERT. It stands in for ACR: the
# tests' Resource Manager returns its address as the registry's loginServer, Podman pushes to it.
#
#   scripts/azure/start-registry.sh DIR CERT KEY PORT REALM
#
# CERT/KEY: a PEM certificate (self-signed, CA:TRUE) for 127.0.0.1 and its key, also the TLS
# certificate of REALM's server. Podman trusts it through containers' certs.d
# (/etc/containers/certs.d/127.0.0.1:PORT/ca.crt as root, ~/.config/containers/certs.d
# otherwise); stop-registry.sh removes that again. The token service is 127.0.0.1:PORT, the
# issuer `stepwise-test-acr`. Installs docker-registry when missing. Prints 127.0.0.1:PORT.
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: start-registry.sh DIR CERT KEY PORT REALM" >&2
  exit 2
fi
dir=$1 cert=$2 key=$3 port=$4 realm=$5
mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)
chmod 700 "$dir"

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "start-registry.sh: installing docker-registry ..." >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update >&2
  # The package's service is not started (no init here); this script runs its own instance.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends docker-registry >&2
fi

umask 077
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
  token:
    realm: $realm
    service: 127.0.0.1:$port
    issuer: stepwise-test-acr
    rootcertbundle: $cert
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
