#!/usr/bin/env bash
# A throwaway PostgreSQL server for the account store's PostgreSQL test: installs Debian's postgresql
# when missing, starts a cluster as the postgres user on a free port under /tmp, creates a database
# and prints its URL on stdout (progress goes to stderr).
#   export PG_TEST_URL="$(scripts/ci-postgres.sh)"
#   scripts/ci-postgres.sh --stop <dir>      stops a cluster started earlier (its dir is printed on stderr)
#   scripts/ci-postgres.sh --kill <dir>      stops it at once, as a crash would (immediate shutdown: recovery at the next start)
#   scripts/ci-postgres.sh --start <dir>     starts it again, on the same port
# As root the cluster runs as the postgres user (created when missing); as another user, as that user.
set -euo pipefail

as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
start_cluster() { # <bindir> <dir> <port>
  as_postgres "'$1/pg_ctl' -D '$2/data' -l '$2/server.log' -w -o \"-p $3 -k '$2' -c listen_addresses=127.0.0.1 -c fsync=off\" start" >&2
}

case "${1:-}" in
  --stop|--kill|--start)
    dir="${2:?usage: ci-postgres.sh $1 <dir>}"
    bin="$(cat "$dir/bindir")"
    case "$1" in
      --stop) as_postgres "'$bin/pg_ctl' -D '$dir/data' -m fast stop" >&2 || true; rm -rf "$dir" ;;
      --kill) as_postgres "'$bin/pg_ctl' -D '$dir/data' -m immediate stop" >&2 ;;
      --start) start_cluster "$bin" "$dir" "$(cat "$dir/port")" ;;
    esac
    exit 0
    ;;
esac

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
if [ "$(id -u)" -eq 0 ]; then id postgres >/dev/null 2>&1 || useradd --system --home /tmp --shell /usr/sbin/nologin postgres; fi

# A free port on the loopback interface.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
dir="$(mktemp -d /tmp/ci-postgres.XXXXXX)"
echo "$bindir" > "$dir/bindir"
echo "$port" > "$dir/port"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)"
printf '%s\n' "$password" > "$dir/pwfile"
chmod 700 "$dir"
chmod 600 "$dir/pwfile"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir"; fi

as_postgres "'$bindir/initdb' -D '$dir/data' -U postgres --pwfile='$dir/pwfile' -A scram-sha-256 -E UTF8 --no-instructions" >&2
start_cluster "$bindir" "$dir" "$port"
PGPASSWORD="$password" "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE account_store_test" >&2
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $dir; stop with scripts/ci-postgres.sh --stop $dir)" >&2
echo "postgres://postgres:${password}@127.0.0.1:${port}/account_store_test"
