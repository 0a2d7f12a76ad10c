#!/usr/bin/env bash
# A private Gitea for tests and local runs: a real git server with Gitea's REST API and git over
# HTTP, built from Go modules (build.sh), on a free port of 127.0.0.1, its data in PostgreSQL
# (tests/scripts/postgres.sh, a server of its own) and in a temporary directory.
#
#   tests/gitserver/gitea.sh up STATE_DIR   -> starts it, prints the path of its env file
#   tests/gitserver/gitea.sh env STATE_DIR  -> prints `export NAME=value` lines, for eval
#   tests/gitserver/gitea.sh down STATE_DIR -> stops exactly its processes, removes STATE_DIR
#
# The env file (STATE_DIR/gitea.env, NAME=value lines) holds:
#   GITEA_URL             http://127.0.0.1:PORT, without a trailing slash
#   GITEA_TOKEN           an access token of the admin with scope `all`; git over HTTP takes it as
#                         the password: http://causeway-admin:$GITEA_TOKEN@127.0.0.1:PORT/org/repo.git
#   GITEA_ADMIN_USER      causeway-admin, a site administrator
#   GITEA_ADMIN_PASSWORD  its password (random per server)
#   GITEA_USER            developer, an ordinary user who belongs to no organisation
#   GITEA_USER_PASSWORD   its password (random per server)
#   GITEA_ORG             golden, an organisation owned by the admin
#
# Anonymous reads are allowed (REQUIRE_SIGNIN_VIEW=false), registration is closed, there is no SSH,
# no mail and no outgoing network (offline mode, no avatars, no update check); webhooks may call
# loopback and private addresses, so a Causeway under test can receive them. Each server has its
# own port, data and secrets, so several can run at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cmd=${1:?usage: gitea.sh up|down|env STATE_DIR}
state=${2:?usage: gitea.sh up|down|env STATE_DIR}

admin_user=causeway-admin
plain_user=developer
org=golden

log() { echo "gitea: $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stops the process recorded in STATE_DIR, but only if that PID still runs a command line naming
# MARKER (a path only this server uses): a PID reused by an unrelated process is left alone.
stop_process() {
    local name=$1 marker=$2 pid_file="$state/$1.pid" pid
    [[ -f "$pid_file" ]] || return 0
    pid=$(cat "$pid_file")
    if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored SIGTERM for 10s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pid_file"
}

down() {
    [[ -d "$state" ]] || return 0
    local state_abs data_dir=""
    state_abs="$(cd "$state" && pwd)"
    [[ -f "$state/data-dir" ]] && data_dir="$(cat "$state/data-dir")"
    # Gitea first, its database last, so nothing logs a lost backend.
    stop_process gitea "$state_abs/app.ini"
    "$root/tests/scripts/postgres.sh" down "$state_abs/postgres"
    [[ -n "$data_dir" ]] && rm -rf "$data_dir"
    rm -rf "$state"
}

# Shows the end of each log when `up` fails, since the processes' output goes to files.
show_logs() {
    local f
    for f in "$state"/*.log; do
        [[ -f "$f" ]] || continue
        echo "---- last lines of $f" >&2
        tail -n 25 "$f" >&2
    done
}

# Polls CONDITION (a command) every 0.2s for up to SECONDS seconds.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${seconds}s waiting for $what"
            return 1
        fi
        # A server that has exited will never become ready; fail at once with its log.
        if [[ -f "$state/gitea.pid" ]] && ! kill -0 "$(cat "$state/gitea.pid")" 2>/dev/null; then
            log "gitea exited while waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

up() {
    if [[ -f "$state/gitea.pid" ]] && kill -0 "$(cat "$state/gitea.pid")" 2>/dev/null; then
        log "a Gitea is already running from $state"
        echo "$(cd "$state" && pwd)/gitea.env"
        return 0
    fi

    local gitea started
    gitea="$("$here/build.sh")"
    started=$SECONDS

    mkdir -p "$state"
    state_abs="$(cd "$state" && pwd)"
    # From here on, a failure stops whatever was already started and removes the state.
    trap 'status=$?; if ((status)); then show_logs; down; fi' EXIT

    umask 077
    local data_dir
    # Repositories, queues and indexes live in a temporary directory, never inside the repository.
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/causeway-gitea.XXXXXX")"
    echo "$data_dir" >"$state_abs/data-dir"

    # Gitea 1.24 stores in SQLite only when built with cgo; this build has none, so PostgreSQL.
    local db_url db_host db_name
    db_url="$("$root/tests/scripts/postgres.sh" up "$state_abs/postgres")"
    db_host="${db_url#postgres://*@}"
    db_name="${db_host#*/}"
    db_host="${db_host%%/*}"

    local port url
    port=$(free_port)
    url="http://127.0.0.1:$port"
    local app_ini="$state_abs/app.ini"
    # Gitea refuses to run as root unless told otherwise; the machines that build Causeway run as root.
    cat >"$app_ini" <<EOF
APP_NAME = Causeway test git server
RUN_MODE = prod
RUN_USER = $(id -un)
WORK_PATH = $data_dir
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = $port
DOMAIN = 127.0.0.1
ROOT_URL = $url/
APP_DATA_PATH = $data_dir/data
STATIC_ROOT_PATH = $(dirname "$gitea")/static
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
GRACEFUL_HAMMER_TIME = 3s

[database]
DB_TYPE = postgres
HOST = $db_host
NAME = $db_name
USER = causeway
PASSWD =
SSL_MODE = disable

[repository]
ROOT = $data_dir/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = $("$gitea" generate secret SECRET_KEY)
INTERNAL_TOKEN = $("$gitea" generate secret INTERNAL_TOKEN)

[oauth2]
JWT_SECRET = $("$gitea" generate secret JWT_SECRET)

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
ENABLE_NOTIFY_MAIL = false
NO_REPLY_ADDRESS = noreply.causeway.invalid

[mailer]
ENABLED = false

[picture]
DISABLE_GRAVATAR = true
ENABLE_FEDERATED_AVATAR = false

[webhook]
ALLOWED_HOST_LIST = loopback,private

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[actions]
ENABLED = false

[cron.update_checker]
ENABLED = false

[log]
MODE = console
LEVEL = Info
logger.router.MODE =
EOF

    local gitea_cmd=("$gitea" --config "$app_ini" --work-path "$data_dir")
    "${gitea_cmd[@]}" web >"$state_abs/gitea.log" 2>&1 </dev/null &
    echo $! >"$state_abs/gitea.pid"
    wait_for "Gitea's /api/v1/version" 120 curl -sf "$url/api/v1/version"
    local ready_after=$((SECONDS - started))

    local admin_password user_password token
    admin_password=$(openssl rand -hex 16)
    user_password=$(openssl rand -hex 16)
    "${gitea_cmd[@]}" admin user create --admin --username "$admin_user" \
        --password "$admin_password" --email "$admin_user@causeway.invalid" \
        --must-change-password=false >>"$state_abs/admin.log" 2>&1
    "${gitea_cmd[@]}" admin user create --username "$plain_user" \
        --password "$user_password" --email "$plain_user@causeway.invalid" \
        --must-change-password=false >>"$state_abs/admin.log" 2>&1
    # The command logs its warning about root to stdout too, before the token: the last line is it.
    token=$("${gitea_cmd[@]}" admin user generate-access-token --username "$admin_user" \
        --token-name causeway-tests --scopes all --raw 2>>"$state_abs/admin.log" | tail -n 1)
    [[ $token =~ ^[0-9a-f]{40}$ ]] || { log "no access token for $admin_user: '$token'"; return 1; }

    local status
    status=$(curl -sS -o "$state_abs/org.json" -w '%{http_code}' -X POST "$url/api/v1/orgs" \
        -H "Authorization: token $token" -H 'Content-Type: application/json' \
        -d "{\"username\": \"$org\", \"visibility\": \"public\"}")
    if [[ $status != 201 ]]; then
        log "creating the organisation $org answered $status: $(cat "$state_abs/org.json")"
        return 1
    fi

    cat >"$state_abs/gitea.env" <<EOF
GITEA_URL=$url
GITEA_TOKEN=$token
GITEA_ADMIN_USER=$admin_user
GITEA_ADMIN_PASSWORD=$admin_password
GITEA_USER=$plain_user
GITEA_USER_PASSWORD=$user_password
GITEA_ORG=$org
EOF

    trap - EXIT
    log "ready at $url after $((SECONDS - started))s (/api/v1/version after ${ready_after}s);" \
        "users $admin_user (admin) and $plain_user, organisation $org"
    log "use it with: set -a; source $state_abs/gitea.env; set +a"
    echo "$state_abs/gitea.env"
}

case "$cmd" in
up) up ;;
down) down ;;
env)
    [[ -f "$state/gitea.env" ]] || { log "no Gitea runs from $state"; exit 1; }
    sed 's/^/export /' "$state/gitea.env"
    ;;
*)
    echo "usage: gitea.sh up|down|env STATE_DIR" >&2
    exit 2
    ;;
esac
