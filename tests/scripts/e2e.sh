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
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && wait "$pid" || true
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

mkdir -p "$root/target/e2e"
# Every journey file, one after the other; E2E_TESTS names some of them instead (paths).
journeys() {
    local file
    for file in ${E2E_TESTS:-"$root"/tests/e2e/*.test.mjs}; do
        node "$file" || return 1
    done
}
if ! BASE_URL="http://127.0.0.1:$port" SCREENSHOTS="$root/target/e2e" journeys; then
    echo "---- server log ----" >&2
    tail -n 50 "$tmp/server.log" >&2
    exit 1
fi
