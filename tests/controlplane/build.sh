#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the wrapper modules into a
# cache folder keyed by the versions, outside the repository, and prints that folder. Binaries that
# are already there are kept, so only the first run on a machine pays for the compile (about
# 20 minutes on two cores; see README.md).
#
# Environment: CAUSEWAY_CONTROLPLANE_CACHE overrides the cache root (default
# ~/.cache/causeway/controlplane).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CAUSEWAY_CONTROLPLANE_CACHE:-$HOME/.cache/causeway/controlplane}"
bin="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
mkdir -p "$bin"

log() { echo "controlplane: $*" >&2; }

if ! command -v go >/dev/null; then
    log "Go is required to build the control plane (any Go >= 1.24); install it and run again."
    exit 1
fi

# The compile is heavy; it must not starve the other builds sharing this machine.
go_build() { nice -n 10 go build -trimpath "$@"; }

# Upstream builds these statically as well; nothing here needs cgo.
export CGO_ENABLED=0

# Two builds of the same folder at once would waste the machine's cores and race on the output
# files, so a lock file serialises them; the second waits and then finds the binaries present.
exec 9>"$bin/.build.lock"
flock 9

missing_k8s=()
for tool in kube-apiserver kube-controller-manager kubectl; do
    [[ -x "$bin/$tool" ]] || missing_k8s+=("k8s.io/kubernetes/cmd/$tool")
done

if ((${#missing_k8s[@]})); then
    # The same version variables upstream's hack/lib/version.sh sets, so /version and kubectl
    # report the real release instead of v0.0.0-master.
    minor="${K8S_VERSION#v1.}"
    minor="${minor%%.*}"
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean"
    done
    log "building ${missing_k8s[*]##*/} $K8S_VERSION into $bin (a cold build takes about 20 minutes)"
    start=$SECONDS
    # Build into a temporary folder and move the results in place, so an interrupted build never
    # leaves a truncated binary that a later run would mistake for a finished one.
    staging="$(mktemp -d "$bin/.staging.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    (cd "$here/k8s" && go_build -ldflags "$ldflags" -o "$staging/" "${missing_k8s[@]}")
    mv "$staging"/* "$bin/"
    log "built Kubernetes components in $((SECONDS - start))s"
fi

if [[ ! -x "$bin/etcd" ]]; then
    log "building etcd $ETCD_VERSION into $bin"
    start=$SECONDS
    # The module root of go.etcd.io/etcd/server/v3 is its main package; without -o the binary
    # would be called "v3".
    (cd "$here/etcd" && go_build -ldflags "-s -w" -o "$bin/etcd.partial" go.etcd.io/etcd/server/v3)
    mv "$bin/etcd.partial" "$bin/etcd"
    log "built etcd in $((SECONDS - start))s"
fi

echo "$bin"
