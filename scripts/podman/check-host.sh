#!/usr/bin/env bash
# Proves this host can run what stepwise's tests and demo run: one throwaway container on a
# bridge network (netavark + iptables), from the offline helper image.
# Fails with the missing piece and the command that installs it, so a missing package is
# found at set-up, not in the 40th test. Leaves nothing behind.
#
#   scripts/podman/check-host.sh [IMAGE]    (default localhost/stepwise/base-busybox:latest)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
image=${1:-localhost/stepwise/base-busybox:latest}
network="stepwise-hostcheck-$$"
container="stepwise-hostcheck-$$"
cleanup() {
  podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
  podman network rm -f "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() {
  echo "check-host: this host cannot run stepwise's containers: $1" >&2
  echo "check-host: fix: $2" >&2
  exit 1
}

for tool in podman runc iptables; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] \
    || fail "$tool is not installed" "apt-get install -y $tool"
done
for helper in netavark aardvark-dns; do
  [ -x "/usr/lib/podman/$helper" ] || [ -x "/usr/libexec/podman/$helper" ] \
    || fail "$helper (Podman's network helper) is not installed" "apt-get install -y $helper"
done
podman image exists "$image" || fail "the helper image $image is missing" "scripts/images/build.sh busybox"

podman network create "$network" >/dev/null 2>&1 || fail "podman network create failed: $(podman network create "$network" 2>&1 | tail -n 1)" "see podman info; apt-get install -y netavark iptables"
if ! out=$(podman run --name "$container" --network "$network" "$image" echo ok 2>&1); then
  case "$out" in
    *netavark*"No such file"*) fail "netavark cannot set up the bridge network ($out)" "apt-get install -y iptables" ;;
    *aardvark*) fail "container DNS (aardvark-dns) failed ($out)" "apt-get install -y aardvark-dns" ;;
    *"OCI runtime"*|*runc*|*crun*) fail "the OCI runtime failed ($out)" "apt-get install -y runc; use scripts/podman/containers.conf (runtime = \"runc\") via CONTAINERS_CONF" ;;
    *) fail "a container on a bridge network did not run: $out" "podman run --rm --network $network $image true   (to see the error)" ;;
  esac
fi
[ "${out##*$'\n'}" = ok ] || fail "the check container printed: $out" "podman run --rm --network $network $image true"
echo "check-host: ok: a container ran on a bridge network" >&2
