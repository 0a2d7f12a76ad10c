#!/usr/bin/env bash
# Readiness follows the database: the server starts before its PostgreSQL exists, answers 503 on
# /readyz (while /healthz stays 200), becomes ready once the database appears, goes back to 503
# when the database stops, and recovers when it returns, all without restarting.
#
#   tests/scripts/readiness-recovery.sh PATH_TO_CAUSEWAY
set -euo pipefail
bin=${1:?usage: readiness-recovery.sh PATH_TO_CAUSEWAY}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
    "$here/postgres.sh" down "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)
port=$(free_port)
status() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$1" || true; }
expect() { # expect PATH CODE SECONDS WHAT
    local deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        [[ "$(status "$1")" == "$2" ]] && { echo "ok: $4" >&2; return 0; }
        sleep 0.2
    done
    echo "FAILED: $4 (/$1 answered $(status "$1"), expected $2)" >&2
    tail -n 20 "$tmp/server.log" >&2
    exit 1
}

CAUSEWAY_DATABASE_URL="postgres://causeway@127.0.0.1:$pg_port/causeway_test" CAUSEWAY_LISTEN="127.0.0.1:$port" CAUSEWAY_SHUTDOWN_DELAY_SECS=0 \
    CAUSEWAY_LOG_FORMAT=json "$bin" serve >"$tmp/server.log" 2>&1 &
pid=$!

expect healthz 200 20 "the process serves /healthz without a database"
expect readyz 503 5 "/readyz is 503 while the database does not exist"
PG_PORT=$pg_port "$here/postgres.sh" up "$tmp/pg" >/dev/null
expect readyz 200 30 "/readyz turns 200 once the database appears (migrations applied)"
"$here/postgres.sh" stop "$tmp/pg"
expect readyz 503 15 "/readyz is 503 while the database is down"
expect healthz 200 5 "the process keeps running"
"$here/postgres.sh" start "$tmp/pg"
expect readyz 200 30 "/readyz recovers when the database returns"
kill -0 "$pid" || { echo "FAILED: the server exited" >&2; exit 1; }
echo "readiness recovery: passed" >&2
