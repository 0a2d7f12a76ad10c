#!/usr/bin/env bash
# A private PostgreSQL for tests: its own data directory and a free port on 127.0.0.1.
#
#   tests/scripts/postgres.sh up STATE_DIR   -> starts it, prints the connection URL
#   tests/scripts/postgres.sh down STATE_DIR -> stops exactly that server and removes STATE_DIR
#   tests/scripts/postgres.sh stop|start STATE_DIR -> pauses and resumes it, keeping its data
#
# PG_PORT chooses the port for `up` (default: a free one).
#
# PostgreSQL is installed from Debian's packages when missing. initdb refuses to run as root, so
# as root the server runs as the `postgres` system user.
set -euo pipefail

cmd=${1:?usage: postgres.sh up|down STATE_DIR}
state=${2:?usage: postgres.sh up|down STATE_DIR}

find_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
    done
    return 1
}

as_owner() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
up)
    if ! bin=$(find_bin); then
        echo "PostgreSQL is not installed; installing Debian's package" >&2
        sudo_cmd=""; [[ $EUID -ne 0 ]] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
        bin=$(find_bin)
    fi
    mkdir -p "$state"
    # The server's own directory lives directly under /tmp, which every user can traverse; the
    # caller's STATE_DIR may sit below directories the postgres user cannot enter.
    pgdir=$(mktemp -d /tmp/causeway-pg.XXXXXX)
    echo "$pgdir" >"$state/pgdir"
    [[ $EUID -eq 0 ]] && chown postgres "$pgdir"
    port=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    as_owner "$bin/initdb" -D "$pgdir/data" -U causeway --auth=trust --encoding=UTF8 --no-sync >"$state/initdb.log" 2>&1 \
        || { cat "$state/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
        -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2 \
        || { cat "$pgdir/server.log" >&2; exit 1; }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U causeway causeway_test
    echo "$port" >"$state/port"
    echo "postgres://causeway@127.0.0.1:$port/causeway_test"
    ;;
stop | start)
    pgdir=$(cat "$state/pgdir")
    port=$(cat "$state/port")
    bin=$(find_bin)
    as_owner "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 -m fast \
        -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" "$cmd" >&2
    ;;
down)
    [[ -f "$state/pgdir" ]] || exit 0
    pgdir=$(cat "$state/pgdir")
    bin=$(find_bin)
    as_owner "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >&2 || true
    rm -rf "$pgdir" "$state"
    ;;
*)
    echo "usage: postgres.sh up|down|stop|start STATE_DIR" >&2
    exit 2
    ;;
esac
