#!/usr/bin/env bash
# Runs a command with GITEA_URL, GITEA_TOKEN, GITEA_ADMIN_USER, GITEA_ADMIN_PASSWORD, GITEA_USER,
# GITEA_USER_PASSWORD and GITEA_ORG naming a private Gitea (tests/gitserver), which is stopped and
# removed afterwards, also when the command fails or is interrupted. The first run on a machine
# builds Gitea (see tests/gitserver/README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
trap 'status=$?; "$here/../gitserver/gitea.sh" down "$state/gitea"; rm -rf "$state"; exit $status' EXIT
env_file=$("$here/../gitserver/gitea.sh" up "$state/gitea")
set -a
# shellcheck source=/dev/null
source "$env_file"
set +a
echo "==> Gitea for tests at $GITEA_URL (admin $GITEA_ADMIN_USER, organisation $GITEA_ORG)" >&2
"$@"
