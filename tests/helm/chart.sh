#!/usr/bin/env bash
# The Helm chart's static checks, against a real API server:
#   1. `helm lint --strict` with charts/causeway/examples/values.yaml;
#   2. `helm template` with those values, and the renders the chart must refuse (no database
#      Secret, no usable sign-in, a key the chart sets itself, storage that replicas cannot share,
#      a value of the wrong kind), each with the message that names what to set;
#   3. the PodDisruptionBudget with two replicas and none with one;
#   4. `kubectl apply --server-side --dry-run=server` of the rendered manifests, and of a rendering
#      with every optional volume, into a namespace that enforces the restricted Pod Security
#      Standard: any warning fails (the API server warns about a Deployment whose pods that
#      standard would refuse), and the Deployment's pod template is dry-run as a Pod, which the
#      standard is enforced on.
#
#   tests/scripts/with-controlplane.sh tests/helm/chart.sh
#
# Helm is built from Go modules on first use (build.sh); kubectl is the control plane's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chart="$root/charts/causeway"
example="$chart/examples/values.yaml"
: "${TEST_KUBECONFIG:?run under tests/scripts/with-controlplane.sh}"

helm=$("$here/build.sh")
kubectl=("$("$root/tests/controlplane/build.sh")/kubectl" --kubeconfig "$TEST_KUBECONFIG" --context admin)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "==> chart: $*" >&2; }
started=$SECONDS

step "helm lint --strict with examples/values.yaml"
if ! "$helm" lint --strict "$chart" -f "$example" >"$tmp/lint.log" 2>&1; then
    cat "$tmp/lint.log" >&2
    exit 1
fi

release=causeway
namespace=causeway-chart
step "helm template with examples/values.yaml"
"$helm" template "$release" "$chart" -n "$namespace" -f "$example" >"$tmp/rendered.yaml"

# A render that must fail, with EXPECTED in its message.
refused() {
    local expected=$1 output
    shift
    if output=$("$helm" template "$release" "$chart" "$@" 2>&1); then
        echo "chart: rendered, but must be refused: helm template $*" >&2
        exit 1
    fi
    if ! grep -qF -- "$expected" <<<"$output"; then
        echo "chart: helm template $* was refused without naming '$expected':" >&2
        echo "$output" >&2
        exit 1
    fi
}
step "renders the chart refuses"
refused "databaseSecret is required"
refused "databaseSecret is required" -f "$example" --set databaseSecret=
refused "no usable sign-in" --set databaseSecret=db --set publicUrl=https://causeway.example.com
refused "no usable sign-in" -f "$example" --set oidc.issuer=
refused "no usable sign-in" -f "$example" --set oidc.clientSecret.secretName=
refused "config.CAUSEWAY_AUTH_MODE: the chart signs people in through OpenID Connect" \
    -f "$example" --set config.CAUSEWAY_AUTH_MODE=dev
refused "config.CAUSEWAY_LISTEN is set by the chart" -f "$example" --set config.CAUSEWAY_LISTEN=127.0.0.1:3000
refused "config.CAUSEWAY_OIDC_CLIENT_SECRET_FILE is set by the chart" \
    -f "$example" --set config.CAUSEWAY_OIDC_CLIENT_SECRET_FILE=/secret
refused "config.CAUSEWAY_KUBECONFIG" -f "$example" --set config.CAUSEWAY_KUBECONFIG=/kubeconfig
refused "config.CAUSEWAY_GITHUB_WEBHOOK_SECRET_FILE is set by the chart" \
    -f "$example" --set config.CAUSEWAY_GITHUB_WEBHOOK_SECRET_FILE=/secret
refused "publicUrl is required" -f "$example" --set publicUrl=
refused "storage: an emptyDir belongs to one pod" -f "$example" --set storage.gitops=true
refused "oidc.ca: set configMap or secret, not both" -f "$example" --set oidc.ca.secret=ca
refused "value must be one of 'refuse', 'admit'" -f "$example" --set oidc.unknownUsers=sometimes
refused "additional properties 'replicas' not allowed" -f "$example" --set replicas=3

step "the PodDisruptionBudget: with two replicas, not with one"
grep -q '^kind: PodDisruptionBudget$' "$tmp/rendered.yaml" ||
    { echo "chart: no PodDisruptionBudget with two replicas" >&2; exit 1; }
if "$helm" template "$release" "$chart" -f "$example" --set replicaCount=1 | grep -q '^kind: PodDisruptionBudget$'; then
    echo "chart: a PodDisruptionBudget with one replica would block every drain" >&2
    exit 1
fi

# Every optional part at once: the storage volume on a claim, the platform configuration, the
# metrics token, the webhooks' secrets, the CA from a Secret.
"$helm" template "$release" "$chart" -n "$namespace" -f "$example" \
    --set storage.gitops=true --set storage.git=true --set storage.existingClaim=causeway-data \
    --set platformConfig=causeway-platform --set metrics.public=false --set metrics.tokenSecret=causeway-metrics \
    --set webhooks.githubSecret=causeway-github-webhook --set webhooks.giteaSecret=causeway-gitea-webhook \
    --set oidc.ca.configMap= --set oidc.ca.secret=causeway-oidc-ca >"$tmp/everything.yaml"

step "kubectl apply --server-side --dry-run=server into a namespace enforcing Pod Security 'restricted'"
"${kubectl[@]}" create namespace "$namespace" >/dev/null
"${kubectl[@]}" label namespace "$namespace" >/dev/null \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
# --force-conflicts: the fixed-name objects (the policies of files/policies.yaml, the deployer
# ClusterRole) are already on the control plane, applied by its set-up under its own field manager;
# in a dry run, taking their fields over changes nothing and still validates every object.
for rendering in rendered everything; do
    if ! "${kubectl[@]}" apply --server-side --force-conflicts --dry-run=server --field-manager=causeway-chart-check \
        -n "$namespace" -f "$tmp/$rendering.yaml" -o json >"$tmp/$rendering.json" 2>"$tmp/$rendering.err"; then
        cat "$tmp/$rendering.err" >&2
        exit 1
    fi
    if grep -i 'warning' "$tmp/$rendering.err" >&2; then
        echo "chart: the API server warned about the $rendering manifests (above)" >&2
        exit 1
    fi
    # The pod the Deployment would make, dry-run as a Pod: Pod Security is enforced on Pods. It
    # runs as the namespace's default ServiceAccount because the release's exists only in the dry
    # run above, and the ServiceAccount admission plugin refuses a Pod whose account is missing.
    python3 - "$tmp/$rendering.json" >"$tmp/$rendering-pod.json" <<'EOF'
import json, sys
applied = json.load(open(sys.argv[1]))
items = applied["items"] if applied.get("kind") == "List" else [applied]
deployment = next(i for i in items if i["kind"] == "Deployment")
spec = dict(deployment["spec"]["template"]["spec"], serviceAccountName="default")
json.dump({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": deployment["metadata"]["name"] + "-pod-security",
                 "labels": deployment["spec"]["template"]["metadata"]["labels"]},
    "spec": spec,
}, sys.stdout)
EOF
    if ! "${kubectl[@]}" create --dry-run=server -n "$namespace" -f "$tmp/$rendering-pod.json" \
        >/dev/null 2>"$tmp/$rendering-pod.err" || grep -qi warning "$tmp/$rendering-pod.err"; then
        cat "$tmp/$rendering-pod.err" >&2
        echo "chart: the $rendering Deployment's pod is refused or warned about in a restricted namespace" >&2
        exit 1
    fi
done
"${kubectl[@]}" delete namespace "$namespace" --wait=false >/dev/null

# No container engine runs here, so the image recipe is checked by what it names: its build stage
# runs `make release`, which must build the binary and the bundle its final stage copies (process.sh
# then runs the binary under that stage's paths, environment and user), and the image's user must
# be the one the chart runs as.
step "the Containerfile: built by make release, run as the chart's user"
containerfile="$root/Containerfile"
grep -qx 'RUN make release' "$containerfile" || { echo "chart: the Containerfile does not run make release" >&2; exit 1; }
make -s -n -C "$root" release >"$tmp/release.txt"
for built in 'frontend/build.sh release' 'cargo build --release -p causeway'; do
    grep -qF "$built" "$tmp/release.txt" || { echo "chart: make release does not run $built" >&2; exit 1; }
done
image_user=$(sed -n 's/^USER \([0-9]*\).*/\1/p' "$containerfile" | tail -n 1)
[[ -n "$image_user" ]] && grep -q "^ *runAsUser: $image_user\$" "$tmp/rendered.yaml" ||
    { echo "chart: the image's USER ($image_user) is not the chart's runAsUser" >&2; exit 1; }
step "passed in $((SECONDS - started))s"
