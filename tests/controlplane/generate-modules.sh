#!/usr/bin/env bash
# Regenerates the wrapper modules k8s/ and etcd/ from versions.env. Run it only when a version
# changes, then commit go.mod and go.sum: builds then verify every module against go.sum and never
# need to resolve anything.
#
# k8s.io/kubernetes requires each of its staging modules (k8s.io/api, k8s.io/client-go, ...) at
# v0.0.0 and redirects them to ./staging with replace lines. A consumer ignores a dependency's
# replace lines, so this wrapper needs one replace per staging module pointing at the published
# v0.<minor>.<patch> tag. The list is read from the upstream go.mod of the pinned release, so a
# minor version that adds or drops a staging module is handled without editing anything here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

staging_version="v0.${K8S_VERSION#v1.}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Downloading outside any module keeps the unfinished wrapper graph from being loaded.
upstream_gomod="$(cd "$scratch" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go_directive="$(go mod edit -json "$upstream_gomod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')"
staging_modules="$(go mod edit -json "$upstream_gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"]["Path"].startswith("./staging/"):
        print(r["Old"]["Path"])')"

cd "$here/k8s"
cat > go.mod <<GOMOD
module causeway.internal/tests/controlplane/k8s

go $go_directive
GOMOD
for module in $staging_modules; do
    go mod edit -replace="$module=$module@$staging_version"
done
go get -tool \
    "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
go mod tidy

cd "$here/etcd"
cat > go.mod <<GOMOD
module causeway.internal/tests/controlplane/etcd

go $go_directive
GOMOD
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy

echo "Regenerated $here/k8s and $here/etcd for Kubernetes $K8S_VERSION and etcd $ETCD_VERSION." >&2
