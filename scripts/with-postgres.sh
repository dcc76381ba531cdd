#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server for it: Debian's package (installed by
# scripts/setup.sh if missing), a fresh data directory under /tmp, a free local port, its
# own superuser; stopped and removed when the command ends, however it ends. The command
# finds the server in CERTIFYCLOUDS_TEST_POSTGRES_URL, its log in CERTIFYCLOUDS_TEST_POSTGRES_LOG.
set -euo pipefail
cd "$(dirname "$0")/.."

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
bin=$(find_bin || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  scripts/setup.sh postgres
  bin=$(find_bin || true)
fi

dir=$(mktemp -d /tmp/certifyclouds-pg.XXXXXX)
chmod 755 "$dir"
# PostgreSQL refuses to run as root: as root, the server runs as Debian's postgres user.
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_server() { su postgres -s /bin/sh -c "$1"; }
else
  as_server() { sh -c "$1"; }
fi

stop() {
  as_server "'$bin/pg_ctl' -D '$dir/data' -m immediate -w stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_server "'$bin/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync" >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }

# A port another process holds makes the start fail: then another one is tried. fsync is
# off (a test server's data is thrown away) unless PG_DURABLE=1, which the benchmark sets so
# that its commits are as durable as SQLite's.
if [ "${PG_DURABLE:-0}" = 1 ]; then durability="-c shared_buffers=1GB"; else durability="-c fsync=off -c full_page_writes=off"; fi
started=""
for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 40000 ))
  if as_server "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 $durability -c max_connections=400\" start" >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "with-postgres: the test server did not start:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
fi

export CERTIFYCLOUDS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
# Its log, which the benchmark reads for the lock waits the server reports.
export CERTIFYCLOUDS_TEST_POSTGRES_LOG="$dir/server.log"
"$@"
