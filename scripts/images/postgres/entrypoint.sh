#!/bin/sh
# Entrypoint of localhost/stepwise/postgres (busybox sh).
# Env: POSTGRES_USER (default postgres), POSTGRES_PASSWORD_FILE (file holding the password,
# e.g. a podman secret under /run/secrets), POSTGRES_DB (comma-separated databases to create,
# owned by POSTGRES_USER), PGDATA (default /var/lib/postgresql/data).
# Every start: initialise PGDATA when empty, set the user's password from the file, create
# missing databases, then exec postgres listening on 0.0.0.0:5432 as the postgres user.
# The password is read by psql from the file (\set ... `cat`), never passed through argv or env.
set -eu
# As the official image: flags go to postgres; any other command (psql, pg_dump ...) just runs.
case "${1:-postgres}" in -*) set -- postgres "$@" ;; esac
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
[ $# -gt 0 ] && shift
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /run/postgresql
  chown -R 999:999 "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  # Secrets are mounted root-owned 0400 by default: hand postgres a private copy.
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -f "$POSTGRES_PASSWORD_FILE" ]; then
    (umask 077 && cat "$POSTGRES_PASSWORD_FILE" > /run/postgresql/.password)
    chown 999:999 /run/postgresql/.password
    export POSTGRES_PASSWORD_FILE=/run/postgresql/.password
  fi
  # busybox has no setpriv --reuid; su -p keeps the environment.
  exec su -p -s /bin/sh postgres -c 'exec "$0" "$@"' "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "entrypoint: initialising $PGDATA for user $user"
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then pwopt="--pwfile=$POSTGRES_PASSWORD_FILE"; else pwopt=""; fi
  initdb -D "$PGDATA" -U "$user" $pwopt --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi

# Reconcile user password and databases on a socket-only server, then run for real.
pg_ctl -D "$PGDATA" -w -o "-c listen_addresses= -c jit=off" start >/dev/null
{
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    printf '\\set pw `cat %s`\n' "$POSTGRES_PASSWORD_FILE"
    printf 'ALTER ROLE :"u" PASSWORD :'"'"'pw'"'"';\n'
  fi
  if [ -n "${POSTGRES_DB:-}" ]; then
    for db in $(echo "$POSTGRES_DB" | tr ',' ' '); do
      printf "SELECT format('CREATE DATABASE %%I OWNER %%I', '%s', :'u') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\\\gexec\n" "$db" "$db"
    done
  fi
} | psql -X -q -v ON_ERROR_STOP=1 -v u="$user" -U "$user" -d postgres >/dev/null
pg_ctl -D "$PGDATA" -w stop >/dev/null
rm -f /run/postgresql/.password 2>/dev/null || true
echo "entrypoint: ready; starting postgres"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c jit=off "$@"
