#!/usr/bin/env bash
# `make bench-provision`: the provisioning benchmark against a private control plane started for it
# and removed afterwards. Three figures for a new environment's full bundle, each saying what it
# includes:
#   - the user's path (user_path.py): `POST /api/provision/apply` to a running release server until
#     its task has completed;
#   - the engine alone (server/platform/benches/provision.rs): `Provisioner::apply` in process;
#   - `kubectl apply --server-side` of the same rendered manifests, with the plane's own kubectl;
# and a no-change reconcile of many environments. BENCH_RUNS (default 15) and BENCH_ENVIRONMENTS
# (default 100) size it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
KUBECTL="$("$root/tests/controlplane/build.sh")/kubectl"
export KUBECTL
cd "$root"
cargo build --release -p causeway
bin="${CARGO_TARGET_DIR:-$root/target}/release/causeway"
exec tests/scripts/with-controlplane.sh bash -c '
  python3 tests/bench/provision/user_path.py "$0" "${BENCH_RUNS:-15}"
  echo
  cargo bench -p causeway-platform --bench provision
' "$bin"
