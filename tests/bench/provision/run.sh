#!/usr/bin/env bash
# `make bench-provision`: the provisioning benchmark (server/platform/benches/provision.rs) against
# a private control plane started for it and removed afterwards, with that plane's own kubectl as
# the alternative. BENCH_RUNS (default 15) and BENCH_ENVIRONMENTS (default 100) size it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
KUBECTL="$("$root/tests/controlplane/build.sh")/kubectl"
export KUBECTL
cd "$root"
exec tests/scripts/with-controlplane.sh cargo bench -p causeway-platform --bench provision
