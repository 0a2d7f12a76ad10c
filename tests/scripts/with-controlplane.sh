#!/usr/bin/env bash
# Runs a command with TEST_KUBECONFIG naming a private Kubernetes control plane
# (tests/controlplane), which is stopped and removed afterwards, also when the command fails or is
# interrupted. The first run on a machine builds the control plane's binaries (see
# tests/controlplane/README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
trap '"$here/../controlplane/controlplane.sh" down "$state/plane"; rm -rf "$state"' EXIT
TEST_KUBECONFIG=$("$here/../controlplane/controlplane.sh" up "$state/plane")
export TEST_KUBECONFIG
echo "==> Kubernetes control plane for tests: TEST_KUBECONFIG=$TEST_KUBECONFIG" >&2
"$@"
