#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis: every operation gets
# generated requests, valid and invalid, and every answer must be free of 5xx and match the status
# codes, content types and schemas the document gives for it.
#
#   tests/api/schemathesis.sh PATH_TO_CAUSEWAY
#
# The server runs on a free port with a fresh SQLite database, the demo organisation and no
# cluster (environments are committed to a GitOps repository in the temporary directory); requests
# carry an API token of Linus, a platform admin, so that every operation is reachable.
# schemathesis.toml beside this script draws some values from the demo organisation and points
# deletes at spare data. schemathesis itself is installed by tests/scripts/setup.sh.
#
# SCHEMATHESIS_EXAMPLES  generated requests per operation in the fuzzing phase (default 100)
# SCHEMATHESIS_SEED      the seed (default fixed, so that `make test` gives the same answer every
#                        time; `random` draws a new one; every run prints the one it used)
# SCHEMATHESIS_CHECKS    the checks (default: no 5xx, status code, content type, response schema)
# SCHEMATHESIS_WORKERS   concurrent workers (default 1)
# SCHEMATHESIS_KEEP      keep the temporary directory (database, server log) for inspection
set -euo pipefail
bin=${1:?usage: schemathesis.sh PATH_TO_CAUSEWAY}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)
examples=${SCHEMATHESIS_EXAMPLES:-100}
schemathesis=$("$root/tests/scripts/setup.sh" schemathesis)

tmp=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && wait "$pid" || true
    fi
    if [[ -n "${SCHEMATHESIS_KEEP:-}" ]]; then
        echo "kept: $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CAUSEWAY_DATABASE_URL="sqlite://$tmp/causeway.db"
export CAUSEWAY_LISTEN="127.0.0.1:$port"
# No load balancer watches this server: it may stop at once on SIGTERM.
export CAUSEWAY_SHUTDOWN_DELAY_SECS=0
export CAUSEWAY_LOG_FORMAT=json
export CAUSEWAY_LOG_FILTER=warn
export CAUSEWAY_GITOPS_DIR="$tmp/gitops"
unset CAUSEWAY_KUBECONFIG
"$bin" migrate >/dev/null
"$bin" seed >/dev/null 2>&1
token=$("$bin" token create --user user:default/linus --name schemathesis | tail -n 1)
# A token and an entity for the fuzzer to revoke and delete (see schemathesis.toml).
spare_token=$("$bin" token create --user user:default/linus --name spare | sed -n 's/^Created token \([^ ]*\) .*/\1/p')
cat >"$tmp/spare.yaml" <<'YAML'
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: spare
spec:
  type: service
  lifecycle: experimental
  owner: group:default/platform
YAML
"$bin" catalog import "$tmp/spare.yaml" >/dev/null 2>&1
# A descriptor file for POST /api/catalog/locations to register.
cat >"$tmp/location.yaml" <<'YAML'
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: registered
spec:
  type: service
  lifecycle: experimental
  owner: group:default/platform
YAML
# The server's working directory is the temporary one, so that relative file locations the fuzzer
# registers resolve inside it.
(cd "$tmp" && exec "$bin" serve) >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the server did not become ready" >&2; cat "$tmp/server.log" >&2; exit 1; }
spare_uid=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/catalog/entities/by-name/component/default/spare" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["uid"])')

echo "==> schemathesis: $examples examples per operation against http://127.0.0.1:$port" >&2
seed=()
case "${SCHEMATHESIS_SEED:-20261207}" in
    random) ;;
    *) seed=(--seed "${SCHEMATHESIS_SEED:-20261207}") ;;
esac
status=0
(cd "$tmp" && SPARE_TOKEN_ID=$spare_token SPARE_ENTITY_UID=$spare_uid LOCATION_FILE=$tmp/location.yaml "$schemathesis" --config-file "$root/tests/api/schemathesis.toml" run "http://127.0.0.1:$port/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks "${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}" \
    --max-examples "$examples" "${seed[@]}" \
    --workers "${SCHEMATHESIS_WORKERS:-1}" \
    --request-timeout 20 \
    --generation-database none \
    --suppress-health-check too_slow,filter_too_much \
    --no-color) || status=$?
if ((status != 0)); then
    echo "---- server log (last 50 lines) ----" >&2
    tail -n 50 "$tmp/server.log" >&2
    exit "$status"
fi
