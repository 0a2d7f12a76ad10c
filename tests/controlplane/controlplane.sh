#!/usr/bin/env bash
# A private Kubernetes control plane for tests and local runs: etcd, kube-apiserver and
# kube-controller-manager built from Go modules (build.sh), on free ports of 127.0.0.1.
#
#   tests/controlplane/controlplane.sh up STATE_DIR   -> starts it, prints the kubeconfig's path
#   tests/controlplane/controlplane.sh down STATE_DIR -> stops exactly its processes, removes STATE_DIR
#
# The kubeconfig has one context per identity, each with its own static token:
#   admin        user admin, group system:masters (bypasses RBAC; for set-up only)
#   causeway     user system:serviceaccount:causeway-system:causeway, the backend, holding exactly
#                the ClusterRole in charts/causeway/files/rbac.yaml
#   developer-a  user developer-a, group team-a
#   developer-b  user developer-b, group team-b
# The developers hold no permissions until something binds a role to them or their team.
#
# When DEX_ISSUER and DEX_CA_FILE name an OpenID Connect provider (tests/scripts/with-dex.sh sets
# them), the API server also accepts that provider's ID tokens issued to DEX_CLIENT_ID (default
# causeway), beside the static tokens: the user is `oidc:` and the token's email, the groups are
# `oidc:` and each of its groups (a developer of team payments is in group `oidc:payments`).
#
# `up` also installs the CRDs Causeway provisions against (crds.sh) and waits until they are
# Established and the aggregated `edit`/`view` ClusterRoles are filled in, so a test can start
# immediately. Each plane has its own ports, data and tokens, so several can run at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cmd=${1:?usage: controlplane.sh up|down STATE_DIR}
state=${2:?usage: controlplane.sh up|down STATE_DIR}

log() { echo "controlplane: $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stops one process recorded in STATE_DIR, but only if that PID still runs a command line naming
# MARKER (a directory only this plane uses): a PID reused by an unrelated process is left alone.
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
    state_abs="$(cd "$state" && pwd)"
    # Reverse start order: the controller manager first, etcd last, so nothing logs a lost backend.
    local etcd_dir=""
    [[ -f "$state/etcd-dir" ]] && etcd_dir="$(cat "$state/etcd-dir")"
    stop_process kube-controller-manager "$state_abs"
    stop_process kube-apiserver "$state_abs"
    [[ -n "$etcd_dir" ]] && stop_process etcd "$etcd_dir"
    [[ -n "$etcd_dir" ]] && rm -rf "$etcd_dir"
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
        # A process that has exited will never become ready; fail at once with its log.
        for name in etcd kube-apiserver kube-controller-manager; do
            if [[ -f "$state/$name.pid" ]] && ! kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
                log "$name exited while waiting for $what"
                return 1
            fi
        done
        sleep 0.2
    done
}

# Writes the API server's AuthenticationConfiguration (apiserver.config.k8s.io/v1, GA in 1.34)
# trusting DEX_ISSUER: its discovery document and keys are fetched over HTTPS verified against
# DEX_CA_FILE, tokens must be issued to the Causeway client, and both the user and the groups are
# prefixed so that a name from the provider can never pose as a Kubernetes user or group such as
# system:masters.
write_authentication_config() {
    local file=$1
    [[ -r "$DEX_CA_FILE" ]] || { log "DEX_CA_FILE ($DEX_CA_FILE) cannot be read"; return 1; }
    {
        cat <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
  - issuer:
      url: "$DEX_ISSUER"
      audiences: ["${DEX_CLIENT_ID:-causeway}"]
      certificateAuthority: |
EOF
        sed 's/^/        /' "$DEX_CA_FILE"
        cat <<'EOF'
    claimMappings:
      username:
        claim: email
        prefix: "oidc:"
      groups:
        claim: groups
        prefix: "oidc:"
EOF
    } >"$file"
}

up() {
    if [[ -f "$state/kube-apiserver.pid" ]] && kill -0 "$(cat "$state/kube-apiserver.pid")" 2>/dev/null; then
        log "a control plane is already running from $state"
        echo "$(cd "$state" && pwd)/kubeconfig"
        return 0
    fi

    local bin crds started
    bin="$("$here/build.sh")"
    crds="$("$here/crds.sh")"
    started=$SECONDS

    mkdir -p "$state"
    state_abs="$(cd "$state" && pwd)"
    # From here on, a failure stops whatever was already started and removes the state.
    trap 'status=$?; if ((status)); then show_logs; down; fi' EXIT

    umask 077
    mkdir -p "$state_abs/certs"
    local etcd_dir
    # etcd's data lives in a temporary directory of its own, never inside the repository.
    etcd_dir="$(mktemp -d "${TMPDIR:-/tmp}/causeway-etcd.XXXXXX")"
    echo "$etcd_dir" >"$state_abs/etcd-dir"

    local etcd_port etcd_peer_port api_port
    etcd_port=$(free_port)
    etcd_peer_port=$(free_port)
    api_port=$(free_port)

    local kubectl_bin="$bin/kubectl"
    local token_admin token_kcm token_causeway token_dev_a token_dev_b
    token_admin=$(openssl rand -hex 24)
    token_kcm=$(openssl rand -hex 24)
    token_causeway=$(openssl rand -hex 24)
    token_dev_a=$(openssl rand -hex 24)
    token_dev_b=$(openssl rand -hex 24)
    # Format: token,user,uid,"group,group". The backend's user name is the one a ServiceAccount
    # `causeway` in `causeway-system` has, so the chart's binding subject matches it unchanged.
    cat >"$state_abs/tokens.csv" <<EOF
$token_admin,admin,uid-admin,"system:masters"
$token_kcm,system:kube-controller-manager,uid-kcm,"system:masters"
$token_causeway,system:serviceaccount:causeway-system:causeway,uid-causeway,"system:serviceaccounts,system:serviceaccounts:causeway-system"
$token_dev_a,developer-a,uid-developer-a,"team-a"
$token_dev_b,developer-b,uid-developer-b,"team-b"
EOF
    openssl genrsa -out "$state_abs/sa.key" 2048 2>/dev/null

    # --unsafe-no-fsync: the data is thrown away with the plane, and fsync dominates etcd's latency.
    "$bin/etcd" --name causeway-test --data-dir "$etcd_dir" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-cluster "causeway-test=http://127.0.0.1:$etcd_peer_port" \
        --unsafe-no-fsync --log-level warn \
        >"$state_abs/etcd.log" 2>&1 </dev/null &
    echo $! >"$state_abs/etcd.pid"
    wait_for "etcd" 30 curl -sf "http://127.0.0.1:$etcd_port/health"

    # People signed in to the test identity provider reach the API server with its ID tokens, as
    # they would with kubectl's OIDC login against a real cluster. --authentication-config and the
    # --oidc-* flags exclude each other; the static token file works beside either.
    local authn_flags=()
    if [[ -n "${DEX_ISSUER:-}" && -n "${DEX_CA_FILE:-}" ]]; then
        write_authentication_config "$state_abs/authentication.yaml"
        authn_flags+=(--authentication-config="$state_abs/authentication.yaml")
    fi

    # The serving certificate is self-signed into --cert-dir; its file holds the leaf and the CA
    # that signed it, which is what the kubeconfig trusts.
    "$bin/kube-apiserver" \
        --etcd-servers="http://127.0.0.1:$etcd_port" \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
        --cert-dir="$state_abs/certs" \
        --service-cluster-ip-range=10.0.0.0/24 \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$state_abs/sa.key" \
        --service-account-signing-key-file="$state_abs/sa.key" \
        --authorization-mode=RBAC \
        --token-auth-file="$state_abs/tokens.csv" \
        "${authn_flags[@]}" \
        --allow-privileged=true \
        --profiling=false \
        >"$state_abs/kube-apiserver.log" 2>&1 </dev/null &
    echo $! >"$state_abs/kube-apiserver.pid"
    wait_for "kube-apiserver /readyz" 120 \
        curl -sf --cacert "$state_abs/certs/apiserver.crt" "https://127.0.0.1:$api_port/readyz"
    local readyz_after=$((SECONDS - started))

    local kubeconfig="$state_abs/kubeconfig"
    cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: causeway-test
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority: $state_abs/certs/apiserver.crt
users:
  - { name: admin, user: { token: $token_admin } }
  - { name: causeway, user: { token: $token_causeway } }
  - { name: developer-a, user: { token: $token_dev_a } }
  - { name: developer-b, user: { token: $token_dev_b } }
contexts:
  - { name: admin, context: { cluster: causeway-test, user: admin } }
  - { name: causeway, context: { cluster: causeway-test, user: causeway } }
  - { name: developer-a, context: { cluster: causeway-test, user: developer-a } }
  - { name: developer-b, context: { cluster: causeway-test, user: developer-b } }
current-context: admin
EOF
    # The controller manager has its own kubeconfig so that it never follows a context change a
    # person makes in the shared one.
    sed -e "s/$token_admin/$token_kcm/" "$kubeconfig" >"$state_abs/kube-controller-manager.kubeconfig"

    # Only the controllers a provisioning backend relies on: namespace deletion, garbage collection,
    # quota usage, each namespace's `default` ServiceAccount and root CA, and the aggregation that
    # fills in the `admin`/`edit`/`view` ClusterRoles. --secure-port=0 turns its HTTPS endpoint off.
    "$bin/kube-controller-manager" \
        --kubeconfig="$state_abs/kube-controller-manager.kubeconfig" \
        --controllers=namespace-controller,garbage-collector-controller,resourcequota-controller,serviceaccount-controller,serviceaccount-token-controller,clusterrole-aggregation-controller,root-ca-certificate-publisher-controller,validatingadmissionpolicy-status-controller \
        --service-account-private-key-file="$state_abs/sa.key" \
        --root-ca-file="$state_abs/certs/apiserver.crt" \
        --use-service-account-credentials=false \
        --leader-elect=false \
        --secure-port=0 \
        >"$state_abs/kube-controller-manager.log" 2>&1 </dev/null &
    echo $! >"$state_abs/kube-controller-manager.pid"

    local kubectl=("$kubectl_bin" --kubeconfig "$kubeconfig" --context admin)
    # Server-side apply: Argo CD's Application CRD is larger than the annotation that client-side
    # apply would write.
    "${kubectl[@]}" apply --server-side --field-manager=causeway-controlplane \
        -f "$root/charts/causeway/files/rbac.yaml" -f "$root/charts/causeway/files/deployer.yaml" \
        -f "$root/charts/causeway/files/confinement.yaml" \
        -f "$root/charts/causeway/files/policies.yaml" \
        -f "$crds" >"$state_abs/apply.log" 2>&1 \
        || { cat "$state_abs/apply.log" >&2; return 1; }
    "${kubectl[@]}" wait --for condition=Established --timeout=60s -f "$crds" >/dev/null
    # Without the aggregation controller a RoleBinding to `edit` grants nothing; tests that bind it
    # must not race the controller's first pass.
    wait_for "the aggregated edit and view ClusterRoles" 60 bash -c \
        '[[ -n "$("$@" get clusterrole edit -o jsonpath="{.rules[0].verbs}")" &&
            -n "$("$@" get clusterrole view -o jsonpath="{.rules[0].verbs}")" ]]' _ "${kubectl[@]}"

    # The API server loads admission policies from an informer; until it has the backend's
    # confinement, the backend could write where it must not, so no test may start before.
    wait_for "the backend's confinement policy to be enforced" 60 bash -c \
        '"$@" --context causeway -n default create configmap confinement-probe --dry-run=server 2>&1 |
            grep -q causeway-backend-confinement' _ "$kubectl_bin" --kubeconfig "$kubeconfig"

    trap - EXIT
    log "ready at https://127.0.0.1:$api_port after $((SECONDS - started))s (/readyz after ${readyz_after}s);" \
        "contexts: admin, causeway, developer-a, developer-b"
    if ((${#authn_flags[@]})); then
        log "ID tokens of $DEX_ISSUER are accepted too (user oidc:EMAIL, groups oidc:GROUP)"
    fi
    log "use it with: export TEST_KUBECONFIG=$kubeconfig"
    log "         or: $kubectl_bin --kubeconfig $kubeconfig --context causeway get namespaces"
    echo "$kubeconfig"
}

case "$cmd" in
up) up ;;
down) down ;;
*)
    echo "usage: controlplane.sh up|down STATE_DIR" >&2
    exit 2
    ;;
esac
