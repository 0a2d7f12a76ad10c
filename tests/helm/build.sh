#!/usr/bin/env bash
# Builds Helm from the Go module in versions.env into a cache folder keyed by that version,
# outside the repository, and prints the binary's path. A binary that is already there is kept, so
# only the first run on a machine pays for the compile (see README.md for the measured cold build).
#
# The build runs in the module's own folder in the module cache, so it uses upstream's go.mod and
# verifies every dependency against upstream's go.sum (Helm's go.mod has no replace lines). The
# link flags are the ones upstream's Makefile sets for a tagged release: the version `helm version`
# reports, and the Kubernetes version that `helm template` and `helm lint` assume, derived from the
# client-go version upstream's go.mod requires.
#
# Environment: CAUSEWAY_HELM_CACHE overrides the cache root (default ~/.cache/causeway/helm).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CAUSEWAY_HELM_CACHE:-$HOME/.cache/causeway/helm}"
dir="$cache_root/$HELM_VERSION"
mkdir -p "$dir"

log() { echo "helm: $*" >&2; }

if ! command -v go >/dev/null; then
    log "Go is required to build Helm for the chart checks (Go >= 1.26 for Helm $HELM_VERSION); install it and run again."
    exit 1
fi

# Two builds at once would race on the output; the second waits and then finds the binary present.
exec 9>"$dir/.build.lock"
flock 9

if [[ ! -x "$dir/helm" ]]; then
    log "building Helm $HELM_VERSION into $dir"
    start=$SECONDS
    # Outside any module, so that no go.work or go.mod around the caller is consulted.
    src="$(cd "$dir" && go mod download -json "$HELM_MODULE@$HELM_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    staging="$(mktemp -d "$dir/.staging.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    client_go="$(cd "$src" && go list -m -f '{{.Version}}' k8s.io/client-go)"
    k8s_minor="$(cut -d. -f2 <<<"$client_go")"
    ldflags="-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION"
    ldflags+=" -X $HELM_MODULE/internal/version.metadata= -X $HELM_MODULE/internal/version.gitTreeState=clean"
    for pkg in pkg/lint/rules pkg/chartutil; do
        ldflags+=" -X $HELM_MODULE/$pkg.k8sVersionMajor=1 -X $HELM_MODULE/$pkg.k8sVersionMinor=$k8s_minor"
    done
    # The lowest priority and one package at a time: the compile must leave a core to the other
    # builds sharing this machine. Upstream builds without cgo as well.
    (cd "$src" && CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -ldflags "$ldflags" \
        -o "$staging/helm" ./cmd/helm)
    # Moved in place only once complete: its presence marks a finished build.
    mv "$staging/helm" "$dir/helm"
    log "built Helm $HELM_VERSION in $((SECONDS - start))s"
fi

echo "$dir/helm"
