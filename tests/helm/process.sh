#!/usr/bin/env bash
# The binary under the chart's settings, as a process: `causeway serve` started the way the chart's
# Deployment starts it in a pod of the Containerfile's image, and checked from outside.
#
#   tests/scripts/with-postgres.sh tests/scripts/with-dex.sh tests/scripts/with-controlplane.sh \
#       tests/helm/process.sh PATH_TO_CAUSEWAY
#
# 1. The release's inputs are put in the control plane as an operator would: a namespace, the
#    database Secret (the private PostgreSQL), the client secret of the test identity provider
#    (Dex) as a Secret and its CA as a ConfigMap.
# 2. charts/causeway/examples/values.yaml is rendered with the test provider's issuer and a free
#    port, and applied for real: ServiceAccount, ClusterRole and binding, confinement, Deployment.
#    The release and namespace differ from the control plane's built-in backend identity, so the
#    only permissions the process has are the ones this release grants.
# 3. pod.py reads the Deployment back from the API server and lays out its pod: the container's
#    environment with the Secret resolved, its volumes, the ServiceAccount token minted for the
#    release's account with the cluster's CA, KUBERNETES_SERVICE_HOST/PORT, the image's files from
#    the Containerfile; then runs the binary in a private mount namespace with a read-only root
#    (only /tmp, the chart's emptyDir, is writable), as user 65532, from the working directory /.
#    The binary is the debug build `make` makes for the other suites; the image holds the release
#    build of the same source.
# 4. Checks: /readyz answers 200 (migrations on PostgreSQL); the sign-in page offers the provider
#    by the chart's providerName and no development form; /auth/oidc/start sends the browser to
#    the provider (discovery over TLS trusting the mounted CA) with the client id and the redirect
#    URI under publicUrl; /metrics is public as the chart says; an environment applied through
#    the REST API lands in the cluster through the in-cluster configuration with the release's
#    ServiceAccount; nothing tried to write to the read-only filesystem; SIGTERM stops it with 0.
#
# Mount namespaces need root or unprivileged user namespaces (Debian's default); as root the
# process also runs as the chart's non-root user.
set -euo pipefail
bin=$(cd "$(dirname "${1:?usage: process.sh PATH_TO_CAUSEWAY}")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
site=${SITE_ROOT:-$root/target/site}
: "${TEST_KUBECONFIG:?run under tests/scripts/with-controlplane.sh}"
: "${TEST_POSTGRES_URL:?run under tests/scripts/with-postgres.sh}"
: "${DEX_ISSUER:?run under tests/scripts/with-dex.sh}"
[[ -f "$site/pkg/causeway_bg.wasm" ]] || { echo "no browser bundle in $site/pkg; run make site" >&2; exit 1; }

helm=$("$here/build.sh")
kubectl_bin="$("$root/tests/controlplane/build.sh")/kubectl"
kubectl=("$kubectl_bin" --kubeconfig "$TEST_KUBECONFIG" --context admin)
release=portal
namespace=platform-tools
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
provider="Example SSO"

state=$(mktemp -d)
pid=""
cleanup() {
    local status=$?
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if ((status)) && [[ -f "$state/server.log" ]]; then
        echo "---- the server's log (last 40 lines) ----" >&2
        tail -n 40 "$state/server.log" >&2
    fi
    rm -rf "$state"
    exit "$status"
}
trap cleanup EXIT
step() { echo "==> chart process: $*" >&2; }
started=$SECONDS

step "the release's Secrets and ConfigMap in namespace $namespace"
"${kubectl[@]}" create namespace "$namespace" >/dev/null
"${kubectl[@]}" -n "$namespace" create secret generic causeway-database \
    --from-literal=database-url="$TEST_POSTGRES_URL" >/dev/null
"${kubectl[@]}" -n "$namespace" create secret generic causeway-oidc \
    --from-file=client-secret="$DEX_CLIENT_SECRET_FILE" >/dev/null
"${kubectl[@]}" -n "$namespace" create configmap causeway-oidc-ca --from-file=ca.crt="$DEX_CA_FILE" >/dev/null

step "helm template $release with examples/values.yaml, applied to the control plane"
"$helm" template "$release" "$root/charts/causeway" -n "$namespace" -f "$root/charts/causeway/examples/values.yaml" \
    --set oidc.issuer="$DEX_ISSUER" --set oidc.clientId="$DEX_CLIENT_ID" \
    --set publicUrl="$base" --set containerPort="$port" --set-string oidc.providerName="$provider" \
    >"$state/release.yaml"
# --force-conflicts: the fixed-name objects are already there from the control plane's set-up.
"${kubectl[@]}" apply --server-side --force-conflicts --field-manager=helm -n "$namespace" \
    -f "$state/release.yaml" >/dev/null
"${kubectl[@]}" -n "$namespace" get deployment "$release" -o json >"$state/deployment.json"

step "the database: migrated, the demo organisation, an API token for ada (team payments)"
export CAUSEWAY_DATABASE_URL="$TEST_POSTGRES_URL"
"$bin" migrate >/dev/null
"$bin" seed >/dev/null
token=$("$bin" token create --user user:default/ada --name chart-process | tail -n 1)
unset CAUSEWAY_DATABASE_URL

step "the pod laid out from the Deployment and the Containerfile"
plan=$(python3 "$here/pod.py" prepare --deployment "$state/deployment.json" --namespace "$namespace" \
    --containerfile "$root/Containerfile" --binary "$bin" --site "$site" \
    --kubectl "$kubectl_bin" --kubeconfig "$TEST_KUBECONFIG" --state "$state/pod")
if ((EUID == 0)); then
    namespaces=(unshare --mount --propagation private)
else
    namespaces=(unshare --user --map-root-user --mount --propagation private)
fi
# pod.py replaces itself with the server (exec), so $! is the server's process.
"${namespaces[@]}" python3 "$here/pod.py" run "$plan" >"$state/server.log" 2>&1 &
pid=$!

step "serving on 0.0.0.0:$port with the chart's environment"
for _ in $(seq 1 150); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { echo "/readyz did not answer 200 within 30 s" >&2; exit 1; }
[[ "$(stat -c %u "/proc/$pid")" == "$( ((EUID == 0)) && echo 65532 || echo "$EUID")" ]] ||
    { echo "the server does not run as the chart's user" >&2; exit 1; }

step "the sign-in page offers $provider"
curl -fsS "$base/sign-in" >"$state/sign-in.html"
grep -qF "Sign in with $provider" "$state/sign-in.html" ||
    { echo "the sign-in page does not offer $provider" >&2; exit 1; }
grep -qF '/auth/oidc/start' "$state/sign-in.html" ||
    { echo "the sign-in page has no link to /auth/oidc/start" >&2; exit 1; }
if grep -qi 'name="user"' "$state/sign-in.html"; then
    echo "the sign-in page still offers the development sign-in" >&2
    exit 1
fi
location=$(curl -sS -o /dev/null -w '%{redirect_url}' "$base/auth/oidc/start?next=/")
callback=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$base/auth/oidc/callback")
[[ "$location" == "$DEX_ISSUER/auth?"* && "$location" == *"client_id=$DEX_CLIENT_ID"* &&
    "$location" == *"redirect_uri=$callback"* ]] ||
    { echo "/auth/oidc/start did not send the browser to the provider: '$location'" >&2; exit 1; }
curl -fsS "$base/metrics" >"$state/metrics.txt" && grep -q '^# TYPE' "$state/metrics.txt" ||
    { echo "/metrics is not public as the chart says" >&2; exit 1; }

step "an environment applied into the pod's own cluster with the release's ServiceAccount"
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
task=$(curl -fsS "${auth[@]}" -d '{"service": "payments-api", "environment": "dev"}' "$base/api/provision/apply" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
status=""
for _ in $(seq 1 300); do
    status=$(curl -fsS "${auth[@]}" "$base/api/tasks/$task" | python3 -c 'import json, sys; print(json.load(sys.stdin)["task"]["status"])')
    [[ "$status" == completed || "$status" == failed || "$status" == cancelled ]] && break
    sleep 0.2
done
if [[ "$status" != completed ]]; then
    echo "the apply task ended '$status':" >&2
    curl -sS "${auth[@]}" "$base/api/tasks/$task" >&2
    exit 1
fi
managed=$("${kubectl[@]}" get namespace payments-api-dev -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}')
[[ "$managed" == causeway ]] || { echo "namespace payments-api-dev is not Causeway's" >&2; exit 1; }

step "SIGTERM: the server stops by itself with status 0"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
((status == 0)) || { echo "the server exited with $status after SIGTERM" >&2; exit 1; }
if grep -qi 'read-only file system' "$state/server.log"; then
    grep -i 'read-only file system' "$state/server.log" | head -n 5 >&2
    echo "the server tried to write outside its volumes" >&2
    exit 1
fi
step "passed in $((SECONDS - started))s"
