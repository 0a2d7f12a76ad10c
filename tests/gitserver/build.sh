#!/usr/bin/env bash
# Builds Gitea from the Go module code.gitea.io/gitea at the version in versions.env into a cache
# folder keyed by that version, outside the repository, and prints the binary's path. A binary that
# is already there is kept, so only the first run on a machine pays for the compile (about
# 4 minutes on two cores at the lowest priority, downloads included; see README.md).
#
# The build runs in the module's own folder in the module cache, so it uses upstream's go.mod with
# its replace lines and verifies every dependency against upstream's go.sum (`go install pkg@version`
# refuses modules with replace lines). CGO_ENABLED=0: Gitea 1.24's SQLite driver needs cgo, so the
# test server stores its data in PostgreSQL (see gitea.sh). Gitea's templates, locales and images
# are copied beside the binary (its non-`bindata` build reads them from STATIC_ROOT_PATH); the
# npm-built JavaScript and CSS are not built: the API and git over HTTP do not use them.
#
# Environment: CAUSEWAY_GITEA_CACHE overrides the cache root (default ~/.cache/causeway/gitea).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CAUSEWAY_GITEA_CACHE:-$HOME/.cache/causeway/gitea}"
dir="$cache_root/$GITEA_VERSION"
mkdir -p "$dir"

log() { echo "gitea: $*" >&2; }

if ! command -v go >/dev/null; then
    log "Go is required to build the test git server (any Go >= 1.24); install it and run again."
    exit 1
fi

# Two builds at once would race on the output; the second waits and then finds the binary present.
exec 9>"$dir/.build.lock"
flock 9

if [[ ! -x "$dir/gitea" || ! -f "$dir/static/.complete" ]]; then
    log "building Gitea $GITEA_VERSION into $dir (a cold build takes about 4 minutes)"
    start=$SECONDS
    # Outside any module, so that no go.work or go.mod around the caller is consulted.
    src="$(cd "$dir" && go mod download -json "code.gitea.io/gitea@$GITEA_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    staging="$(mktemp -d "$dir/.staging.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    # The same version variables upstream's Makefile sets, so /api/v1/version reports the release.
    ldflags="-s -w -X main.Version=${GITEA_VERSION#v} -X main.MakeVersion=causeway"
    # The lowest priority and one package at a time: the compile must leave a core to the other
    # builds sharing this machine.
    (cd "$src" && CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -ldflags "$ldflags" \
        -o "$staging/gitea" .)
    # Read-only in the module cache; copied so that `go clean -modcache` cannot break the server.
    mkdir -p "$staging/static"
    cp -R "$src/options" "$src/templates" "$src/public" "$staging/static/"
    chmod -R u+w "$staging/static"
    touch "$staging/static/.complete"
    rm -rf "$dir/static"
    mv "$staging/static" "$dir/static"
    # The binary last: its presence marks a finished build.
    mv "$staging/gitea" "$dir/gitea"
    log "built Gitea $GITEA_VERSION in $((SECONDS - start))s"
fi

echo "$dir/gitea"
