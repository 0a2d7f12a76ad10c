#!/usr/bin/env bash
# Runs a command with DEX_ISSUER, DEX_CA_FILE, DEX_CLIENT_ID, DEX_CLIENT_SECRET,
# DEX_CLIENT_SECRET_FILE, DEX_PASSWORD, DEX_PASSWORD_HASH, DEX_USERS and DEX_GRPC_ADDR (Dex's gRPC
# API, plaintext on loopback) naming a private Dex (tests/oidc), which is
# stopped and removed afterwards, also when the command fails or is interrupted. DEX_REDIRECT_URIS
# (comma-separated) sets the redirect URIs its client accepts. The first run on a machine builds
# Dex (see tests/oidc/README.md). Run it outside with-controlplane.sh, so that the control plane's
# API server trusts this Dex.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
stop() {
    local status=$?
    "$here/../oidc/dex.sh" down "$state/dex"
    rm -rf "$state"
    exit "$status"
}
trap stop EXIT
env_file=$("$here/../oidc/dex.sh" up "$state/dex")
set -a
# shellcheck source=/dev/null
source "$env_file"
set +a
echo "==> Dex for tests at $DEX_ISSUER (client $DEX_CLIENT_ID, users $DEX_USERS)" >&2
"$@"
