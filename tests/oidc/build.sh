#!/usr/bin/env bash
# Builds Dex from the Go module github.com/dexidp/dex at the version in versions.env into a cache
# folder keyed by that version, outside the repository, and prints the binary's path. A binary that
# is already there is kept, so only the first run on a machine pays for the compile (see README.md
# for the measured cold build).
#
# The build runs in the module's own folder in the module cache, so it uses upstream's go.mod and
# verifies every dependency against upstream's go.sum; `go install pkg@version` refuses modules
# with replace lines. Upstream's go.mod has one: github.com/dexidp/dex/api/v2 => ./api/v2, a nested
# module that the module zip leaves out (a zip never holds another module's files). The build
# therefore reads a copy of go.mod and go.sum (-modfile) whose replace line points at that module
# as published at the version upstream's go.mod requires, downloaded and checked against the
# checksum database like any other dependency.
# CGO_ENABLED=0: the test server stores in memory, so Dex's cgo-only SQLite storage is not needed.
# Dex's login form, templates and themes are embedded in the binary (web/web.go), so the binary is
# all a server needs.
#
# Environment: CAUSEWAY_DEX_CACHE overrides the cache root (default ~/.cache/causeway/dex).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CAUSEWAY_DEX_CACHE:-$HOME/.cache/causeway/dex}"
dir="$cache_root/$DEX_VERSION"
mkdir -p "$dir"

log() { echo "dex: $*" >&2; }

if ! command -v go >/dev/null; then
    log "Go is required to build the test identity provider (any Go >= 1.24); install it and run again."
    exit 1
fi

# Two builds at once would race on the output; the second waits and then finds the binary present.
exec 9>"$dir/.build.lock"
flock 9

if [[ ! -x "$dir/dex" ]]; then
    log "building Dex $DEX_RELEASE ($DEX_VERSION) into $dir"
    start=$SECONDS
    # Outside any module, so that no go.work or go.mod around the caller is consulted.
    src="$(cd "$dir" && go mod download -json "github.com/dexidp/dex@$DEX_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    staging="$(mktemp -d "$dir/.staging.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    api_version="$(awk '$1 == "github.com/dexidp/dex/api/v2" && $2 ~ /^v/ { print $2; exit }' "$src/go.mod")"
    api_dir="$(cd "$dir" && go mod download -json "github.com/dexidp/dex/api/v2@$api_version" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    cp "$src/go.mod" "$staging/go.mod"
    cp "$src/go.sum" "$staging/go.sum"
    chmod u+w "$staging/go.mod" "$staging/go.sum"
    go mod edit -replace "github.com/dexidp/dex/api/v2=$api_dir" "$staging/go.mod"
    # The version variable upstream's Makefile sets, so `dex version` reports the release.
    ldflags="-s -w -X main.version=$DEX_RELEASE"
    # The lowest priority and one package at a time: the compile must leave a core to the other
    # builds sharing this machine.
    (cd "$src" && CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -modfile="$staging/go.mod" \
        -ldflags "$ldflags" -o "$staging/dex" ./cmd/dex)
    # Moved in place only once complete: its presence marks a finished build.
    mv "$staging/dex" "$dir/dex"
    log "built Dex $DEX_RELEASE in $((SECONDS - start))s"
fi

echo "$dir/dex"
