#!/usr/bin/env bash
# A throwaway PostgreSQL server for the account store's PostgreSQL test: installs Debian's postgresql
# when missing, starts a cluster as the postgres user on a free port under /tmp, creates a database
# and prints its URL on stdout (progress goes to stderr).
#   export PG_TEST_URL="$(scripts/ci-postgres.sh)"
#   scripts/ci-postgres.sh --stop <dir>      stops a cluster started earlier (its dir is printed on stderr)
set -euo pipefail

if [ "${1:-}" = "--stop" ]; then
  dir="${2:?usage: ci-postgres.sh --stop <dir>}"
  bin="$(cat "$dir/bindir")"
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast stop" >&2 || true
  rm -rf "$dir"
  exit 0
fi

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

if ! bindir="$(find_bindir)"; then
  echo "postgresql not installed: installing Debian's package" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "run as root to install postgresql (apt-get)" >&2; exit 1; fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bindir="$(find_bindir)"
fi
id postgres >/dev/null 2>&1 || useradd --system --home /tmp --shell /usr/sbin/nologin postgres

# A free port on the loopback interface.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
dir="$(mktemp -d /tmp/ci-postgres.XXXXXX)"
echo "$bindir" > "$dir/bindir"
chown -R postgres "$dir"
chmod 700 "$dir"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)"
printf '%s\n' "$password" > "$dir/pwfile"
chown postgres "$dir/pwfile"
chmod 600 "$dir/pwfile"

as_postgres() { su postgres -s /bin/sh -c "$1"; }
as_postgres "'$bindir/initdb' -D '$dir/data' -U postgres --pwfile='$dir/pwfile' -A scram-sha-256 -E UTF8 --no-instructions" >&2
as_postgres "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start" >&2
PGPASSWORD="$password" "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE account_store_test" >&2
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $dir; stop with scripts/ci-postgres.sh --stop $dir)" >&2
echo "postgres://postgres:${password}@127.0.0.1:${port}/account_store_test"
