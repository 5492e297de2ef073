#!/usr/bin/env bash
# Starts a private `podman system service` for stepwise's tests and demos.
#
#   scripts/podman/start.sh [DIR]     (DIR defaults to $STEPWISE_PODMAN_DIR or test/.work/podman)
#
# Installs podman + runc when missing, then serves the Docker-compatible + libpod API on
# unix://DIR/podman.sock with this directory's containers.conf (the sandbox's quirks).
# Idempotent: when a service started here still answers, it is reused. Prints the socket
# path on stdout (and nothing else); progress goes to stderr. Exit 0 when the socket answers.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-${STEPWISE_PODMAN_DIR:-$root/test/.work/podman}}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
chmod 700 "$dir"
sock="$dir/podman.sock"
pidfile="$dir/podman.pid"
log="$dir/podman.log"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"


if [ ${#sock} -gt 100 ]; then
  echo "start.sh: socket path $sock is too long for a unix socket (max ~107 bytes); pass a shorter DIR" >&2
  exit 2
fi

# What a container on a bridge network needs on this host. aardvark-dns (a Recommends of
# podman) lets containers find each other by name; netavark sets up the network with iptables,
# which Debian's podman only Suggests: without it every container start fails with
# "netavark: No such file or directory". scripts/podman/check-host.sh proves the set.
packages=(podman runc netavark aardvark-dns iptables curl)
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
if ! have podman || ! have runc || ! have curl || ! have iptables \
  || ! [ -x /usr/lib/podman/aardvark-dns ] || ! [ -x /usr/lib/podman/netavark ]; then
  echo "start.sh: installing ${packages[*]} ..." >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${packages[@]}" >&2
fi

ping_ok() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

# Fast path, no lock: the service this directory started answers.
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && ping_ok; then
  echo "$sock"
  exit 0
fi

# Parallel callers (test files) serialise here; the later ones find the service running.
# Bounded: a stray holder of the lock must not hang a test run.
exec 9>"$dir/start.lock"
if ! flock -w 60 9; then
  echo "start.sh: $dir/start.lock is held by another process for 60s; see: fuser -v $dir/start.lock" >&2
  exit 1
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && ping_ok; then
  echo "$sock"
  exit 0
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  # Alive but not answering (yet): give it a moment, then replace it.
  for _ in $(seq 1 20); do ping_ok && { echo "$sock"; exit 0; }; sleep 0.25; done
  kill "$(cat "$pidfile")" 2>/dev/null || true
fi
rm -f "$sock" "$pidfile"

echo "start.sh: starting podman system service on $sock (log: $log)" >&2
# setsid: the service must outlive the shell (and test runner) that started it;
# 9>&-: it must not inherit (and so hold) the start lock.
setsid podman system service --time=0 "unix://$sock" >>"$log" 2>&1 </dev/null 9>&- &
echo $! > "$pidfile"

for _ in $(seq 1 120); do
  if ping_ok; then
    chmod 600 "$sock" 2>/dev/null || true
    echo "$sock"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start.sh: podman system service exited; last log lines:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
  sleep 0.25
done
echo "start.sh: podman system service did not answer on $sock within 30s; see $log" >&2
exit 1
