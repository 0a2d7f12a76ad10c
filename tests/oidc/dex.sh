#!/usr/bin/env bash
# A private OpenID Connect provider for tests and local runs: Dex built from Go modules (build.sh),
# over HTTPS with a test CA of its own, on a free port of 127.0.0.1, storing in memory.
#
#   tests/oidc/dex.sh up STATE_DIR   -> starts it, prints the path of its env file
#   tests/oidc/dex.sh env STATE_DIR  -> prints `export NAME=value` lines, for eval
#   tests/oidc/dex.sh down STATE_DIR -> stops exactly its process, removes STATE_DIR
#
# The env file (STATE_DIR/dex.env, NAME=value lines, values quoted for the shell) holds:
#   DEX_ISSUER              https://127.0.0.1:PORT/dex, the issuer of every token
#   DEX_CA_FILE             the test CA's certificate (PEM) that signed Dex's serving certificate
#   DEX_CLIENT_ID           causeway, a confidential static client
#   DEX_CLIENT_SECRET       its secret (random per server)
#   DEX_CLIENT_SECRET_FILE  a file holding only that secret, without a newline
#   DEX_PASSWORD            every user's password (the same for all, fixed: see USERS below)
#   DEX_PASSWORD_HASH       its bcrypt hash, for people a test adds through the gRPC API
#   DEX_USERS               the users' emails, separated by spaces
#   DEX_GRPC_ADDR           127.0.0.1:PORT, Dex's gRPC API (api.Dex: CreatePassword, DeletePassword,
#                           RevokeRefresh, …) in plaintext HTTP/2 on loopback, with no credentials.
#                           The static passwords below cannot be changed through it; people a test
#                           adds with CreatePassword can be deleted again, and RevokeRefresh ends
#                           their refresh tokens (server/causeway/tests/support/dex_api.rs, which
#                           also says why such a person's token must not be refreshed while they
#                           exist: Dex's in-memory storage then deadlocks).
#
# Environment at `up`: DEX_REDIRECT_URIS, a comma-separated list of the redirect URIs the client
# accepts (default http://127.0.0.1:3999/auth/oidc/callback). Dex compares redirect URIs exactly,
# port included, so a Causeway under test must use one of them.
#
# The users are the demo organisation's (server/causeway/demo/org.yaml) with their teams as the
# `groups` claim, and one person the catalog does not know. Tokens come from the browser flow
# (authorization code; Dex's own login form) or, without a browser, from the password grant:
#   curl --cacert "$DEX_CA_FILE" -u "$DEX_CLIENT_ID:$DEX_CLIENT_SECRET" "$DEX_ISSUER/token" \
#     -d grant_type=password -d username=ada@example.com -d "password=$DEX_PASSWORD" \
#     -d 'scope=openid email profile groups offline_access'
# With offline_access the answer carries a refresh token, which the refresh_token grant accepts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd=${1:?usage: dex.sh up|down|env STATE_DIR}
state=${2:?usage: dex.sh up|down|env STATE_DIR}

client_id=causeway
default_redirect_uris=http://127.0.0.1:3999/auth/oidc/callback
# A test password, the same for every user, and its bcrypt hash (cost 10, the least Dex accepts).
# It is fixed rather than random so that a person can sign in by hand to a server started with `up`;
# Dex listens on loopback only and keeps nothing.
password=causeway-test-password
# shellcheck disable=SC2016 # A bcrypt hash, not an expression: the dollars are literal.
password_hash='$2a$10$eu2bivtUm9DmGn0D4cBLiuFI2e1gE4hUKlyneN9b49flj3eM3Fdgm'
# email|groups (comma-separated)|user id. The first three are the demo organisation's people and
# their teams; mallory is unknown to the catalog and in a group no catalog Group names.
users=(
    "ada@example.com|payments|ada"
    "grace@example.com|checkout|grace"
    "linus@example.com|platform,payments|linus"
    "mallory@example.com|contractors|mallory"
)

log() { echo "dex: $*" >&2; }

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
    local state_abs
    state_abs="$(cd "$state" && pwd)"
    stop_process dex "$state_abs/config.yaml"
    rm -rf "$state"
}

# Shows the end of the log when `up` fails, since the server's output goes to a file.
show_logs() {
    if [[ -f "$state/dex.log" ]]; then
        echo "---- last lines of $state/dex.log" >&2
        tail -n 25 "$state/dex.log" >&2
    fi
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
        if [[ -f "$state/dex.pid" ]] && ! kill -0 "$(cat "$state/dex.pid")" 2>/dev/null; then
            log "dex exited while waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# Makes the test CA and a serving certificate for 127.0.0.1 and localhost signed by it. The
# extensions are the ones strict verifiers (rustls/webpki, Go) insist on: a CA marked as such, and
# a leaf with subjectAltNames and the serverAuth purpose that is not itself a CA.
make_certificates() {
    local dir=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=Causeway test CA for Dex" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$dir/dex.key" -out "$dir/dex.csr" 2>/dev/null
    cat >"$dir/dex.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
    openssl x509 -req -in "$dir/dex.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 30 -extfile "$dir/dex.ext" -out "$dir/dex.crt" 2>/dev/null
    rm -f "$dir/dex.csr" "$dir/dex.ext" "$dir/ca.srl"
}

up() {
    if [[ -f "$state/dex.pid" ]] && kill -0 "$(cat "$state/dex.pid")" 2>/dev/null; then
        log "a Dex is already running from $state"
        echo "$(cd "$state" && pwd)/dex.env"
        return 0
    fi

    local dex started
    dex="$("$here/build.sh")"
    started=$SECONDS

    mkdir -p "$state"
    state_abs="$(cd "$state" && pwd)"
    # From here on, a failure stops whatever was already started and removes the state.
    trap 'status=$?; if ((status)); then show_logs; down; fi' EXIT

    umask 077
    make_certificates "$state_abs"
    # The CA certificate is public; the API server and test processes read it.
    chmod 644 "$state_abs/ca.crt"

    local port grpc_port issuer secret
    port=$(free_port)
    grpc_port=$(free_port)
    issuer="https://127.0.0.1:$port/dex"
    secret=$(openssl rand -hex 24)
    printf '%s' "$secret" >"$state_abs/client-secret"

    local redirect_uris uri
    redirect_uris="${DEX_REDIRECT_URIS:-$default_redirect_uris}"
    local redirect_yaml=""
    IFS=, read -r -a uris <<<"$redirect_uris"
    for uri in "${uris[@]}"; do
        uri="${uri#"${uri%%[![:space:]]*}"}"
        uri="${uri%"${uri##*[![:space:]]}"}"
        [[ -n "$uri" ]] || continue
        redirect_yaml+="      - \"$uri\""$'\n'
    done
    [[ -n "$redirect_yaml" ]] || { log "DEX_REDIRECT_URIS names no redirect URI"; return 1; }

    local passwords_yaml="" emails=() entry email groups id group
    for entry in "${users[@]}"; do
        IFS='|' read -r email groups id <<<"$entry"
        emails+=("$email")
        passwords_yaml+="  - email: \"$email\""$'\n'
        passwords_yaml+="    hash: \"$password_hash\""$'\n'
        passwords_yaml+="    username: \"$id\""$'\n'
        passwords_yaml+="    preferredUsername: \"$id\""$'\n'
        passwords_yaml+="    userID: \"$id\""$'\n'
        passwords_yaml+="    groups:"$'\n'
        IFS=, read -r -a group_list <<<"$groups"
        for group in "${group_list[@]}"; do
            passwords_yaml+="      - \"$group\""$'\n'
        done
    done

    # storage: memory, so that nothing outlives the server. passwordConnector: local enables the
    # password grant (tokens without a browser) against the static passwords; with only the local
    # connector the browser flow goes straight to Dex's login form, and skipApprovalScreen spares
    # it the consent page. The default grant types include authorization_code, password and
    # refresh_token. The gRPC API listens without TLS or credentials, on loopback only, so that
    # tests can add and delete people at run time.
    cat >"$state_abs/config.yaml" <<EOF
issuer: $issuer
storage:
  type: memory
web:
  https: 127.0.0.1:$port
  tlsCert: $state_abs/dex.crt
  tlsKey: $state_abs/dex.key
grpc:
  addr: 127.0.0.1:$grpc_port
logger:
  level: info
  format: text
oauth2:
  passwordConnector: local
  skipApprovalScreen: true
enablePasswordDB: true
staticClients:
  - id: $client_id
    name: Causeway
    secret: $secret
    redirectURIs:
$redirect_yaml
staticPasswords:
$passwords_yaml
EOF

    "$dex" serve "$state_abs/config.yaml" >"$state_abs/dex.log" 2>&1 </dev/null &
    echo $! >"$state_abs/dex.pid"
    wait_for "Dex's discovery document" 60 \
        curl -sf --cacert "$state_abs/ca.crt" "$issuer/.well-known/openid-configuration"
    local ready_after=$((SECONDS - started))

    # One password grant, so that a server whose users, hash or client do not work fails here
    # rather than in the first test that signs in.
    local answer
    answer=$(curl -sS --cacert "$state_abs/ca.crt" -u "$client_id:$secret" "$issuer/token" \
        -d grant_type=password -d "username=${emails[0]}" -d "password=$password" \
        -d 'scope=openid email groups') || { log "the token endpoint did not answer"; return 1; }
    if ! python3 -c '
import base64, json, sys
token = json.loads(sys.argv[1])["id_token"]
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
assert claims["email"] == sys.argv[2] and claims["groups"], claims
' "$answer" "${emails[0]}" 2>"$state_abs/check.log"; then
        log "the password grant for ${emails[0]} gave no ID token with groups: $answer"
        cat "$state_abs/check.log" >&2
        return 1
    fi

    cat >"$state_abs/dex.env" <<EOF
DEX_ISSUER=$issuer
DEX_CA_FILE=$state_abs/ca.crt
DEX_CLIENT_ID=$client_id
DEX_CLIENT_SECRET=$secret
DEX_CLIENT_SECRET_FILE=$state_abs/client-secret
DEX_PASSWORD=$password
DEX_PASSWORD_HASH='$password_hash'
DEX_USERS="${emails[*]}"
DEX_GRPC_ADDR=127.0.0.1:$grpc_port
EOF

    trap - EXIT
    log "ready at $issuer after $((SECONDS - started))s (discovery after ${ready_after}s);" \
        "client $client_id, users ${emails[*]}, gRPC API at 127.0.0.1:$grpc_port"
    log "use it with: set -a; source $state_abs/dex.env; set +a"
    echo "$state_abs/dex.env"
}

case "$cmd" in
up) up ;;
down) down ;;
env)
    [[ -f "$state/dex.env" ]] || { log "no Dex runs from $state"; exit 1; }
    sed 's/^/export /' "$state/dex.env"
    ;;
*)
    echo "usage: dex.sh up|down|env STATE_DIR" >&2
    exit 2
    ;;
esac
