#!/usr/bin/env bash
# Browser suite: starts the portal (built `causeway` binary + target/site) on a free port with a
# fresh SQLite database, the demo organisation and the demo templates, runs the Chromium tests,
# and stops the server.
#
#   tests/scripts/e2e.sh PATH_TO_CAUSEWAY
set -euo pipefail
bin=${1:?usage: e2e.sh PATH_TO_CAUSEWAY}
root=$(cd "$(dirname "$0")/../.." && pwd)
site=${SITE_ROOT:-$root/target/site}
[[ -f "$site/pkg/causeway_bg.wasm" ]] || { echo "no browser bundle in $site/pkg; run frontend/build.sh" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
oidc_pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && wait "$pid" || true
    fi
    if [[ -n "$oidc_pid" ]] && kill -0 "$oidc_pid" 2>/dev/null; then
        kill -TERM "$oidc_pid" && wait "$oidc_pid" || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CAUSEWAY_DATABASE_URL="sqlite://$tmp/causeway.db"
export CAUSEWAY_LISTEN="127.0.0.1:$port"
# No load balancer watches this server: it may stop at once on SIGTERM.
export CAUSEWAY_SHUTDOWN_DELAY_SECS=0
export CAUSEWAY_SITE_ROOT="$site"
export CAUSEWAY_LOG_FORMAT=json
export CAUSEWAY_GITOPS_DIR="$tmp/gitops"
# The create journey publishes new repositories to the embedded git host.
export CAUSEWAY_GIT_DIR="$tmp/git"
# The environments journey provisions into the control plane of `make test`, when there is one.
if [[ -n "${TEST_KUBECONFIG:-}" ]]; then
    export CAUSEWAY_KUBECONFIG="$TEST_KUBECONFIG"
fi
"$bin" migrate >/dev/null
"$bin" seed >/dev/null
# The demo golden paths, as `make run` imports them.
"$bin" catalog import "$root"/server/causeway/demo/templates/*/template.yaml >/dev/null
"$bin" serve >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the portal did not become ready" >&2; cat "$tmp/server.log" >&2; exit 1; }

# With a Dex for tests (with-dex.sh), a second portal signs in through it (auth_mode = "oidc") for
# oidc.test.mjs, on its own database. It listens at 127.0.0.1:3999 because that is the redirect URI
# Dex's client allows by default (DEX_REDIRECT_URIS).
oidc_base=""
if [[ -n "${DEX_ISSUER:-}" ]]; then
    oidc_port=${OIDC_PORT:-3999}
    oidc_base="http://127.0.0.1:$oidc_port"
    oidc_env=(
        CAUSEWAY_DATABASE_URL="sqlite://$tmp/oidc.db" CAUSEWAY_LISTEN="127.0.0.1:$oidc_port"
        CAUSEWAY_PUBLIC_URL="$oidc_base" CAUSEWAY_GITOPS_DIR="$tmp/oidc-gitops" CAUSEWAY_GIT_DIR="$tmp/oidc-git"
        CAUSEWAY_AUTH_MODE=oidc CAUSEWAY_OIDC_ISSUER="$DEX_ISSUER" CAUSEWAY_OIDC_CLIENT_ID="$DEX_CLIENT_ID"
        CAUSEWAY_OIDC_CLIENT_SECRET_FILE="$DEX_CLIENT_SECRET_FILE" CAUSEWAY_OIDC_CA_FILE="$DEX_CA_FILE"
        CAUSEWAY_OIDC_PROVIDER_NAME=Dex
    )
    env "${oidc_env[@]}" "$bin" migrate >/dev/null
    env "${oidc_env[@]}" "$bin" seed >/dev/null
    env "${oidc_env[@]}" "$bin" serve >"$tmp/oidc-server.log" 2>&1 &
    oidc_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS "$oidc_base/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS "$oidc_base/readyz" >/dev/null || { echo "the OpenID Connect portal did not become ready" >&2; cat "$tmp/oidc-server.log" >&2; exit 1; }
fi

mkdir -p "$root/target/e2e"
# Every journey file, one after the other; E2E_TESTS names some of them instead (paths).
journeys() {
    local file
    for file in ${E2E_TESTS:-"$root"/tests/e2e/*.test.mjs}; do
        node "$file" || return 1
    done
}
if ! BASE_URL="http://127.0.0.1:$port" OIDC_BASE_URL="$oidc_base" SCREENSHOTS="$root/target/e2e" journeys; then
    echo "---- server log ----" >&2
    tail -n 50 "$tmp/server.log" >&2
    if [[ -n "$oidc_base" ]]; then
        echo "---- OpenID Connect server log ----" >&2
        tail -n 50 "$tmp/oidc-server.log" >&2
    fi
    exit 1
fi
