#!/usr/bin/env bash
# Fetches the CustomResourceDefinitions Causeway provisions against from the upstream projects' Go
# module zips, at the versions pinned in versions.env, into a cache folder outside the repository,
# and prints that folder. The YAML is never committed: it is the projects' own release data, and
# pinning the module version is what makes it reproducible.
#
# Tekton's Pipeline, Task, PipelineRun and TaskRun serve v1beta1 and v1 and convert between them
# through a webhook that cannot run here, so only the storage version tekton.dev/v1 is kept and
# the conversion strategy is set to None.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CAUSEWAY_CONTROLPLANE_CACHE:-$HOME/.cache/causeway/controlplane}"
out="$cache_root/crds/tekton-$TEKTON_VERSION-grafana-$GRAFANA_OPERATOR_VERSION-prom-$PROMETHEUS_OPERATOR_VERSION-argocd-$ARGOCD_VERSION"

if [[ -f "$out/.complete" ]]; then
    echo "$out"
    exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Runs outside any module so only the named module's zip is downloaded, not its dependencies.
module_dir() {
    (cd "$scratch" && go mod download -json "$1@$2" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

# PyYAML rewrites the Tekton CRDs. Debian ships it as python3-yaml for its own /usr/bin/python3,
# which a python3 earlier on PATH (pyenv, a virtualenv) does not see.
python=""
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import yaml' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [[ -z "$python" ]]; then
    echo "controlplane: PyYAML is missing; installing Debian's python3-yaml" >&2
    sudo_cmd=""; [[ $EUID -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-yaml >&2
    python=/usr/bin/python3
fi

mkdir -p "$scratch/crds"
dir="$(module_dir "$TEKTON_MODULE" "$TEKTON_VERSION")"
for kind in pipeline task pipelinerun taskrun; do
    "$python" - "$dir/config/300-crds/300-$kind.yaml" "$scratch/crds/tekton-$kind.yaml" <<'PY'
import sys, yaml
crd = yaml.safe_load(open(sys.argv[1]))
crd["spec"]["versions"] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
assert crd["spec"]["versions"] and crd["spec"]["versions"][0]["storage"], sys.argv[1]
crd["spec"]["conversion"] = {"strategy": "None"}
yaml.safe_dump(crd, open(sys.argv[2], "w"), sort_keys=False)
PY
done

dir="$(module_dir "$GRAFANA_OPERATOR_MODULE" "$GRAFANA_OPERATOR_VERSION")"
cp "$dir/config/crd/bases/grafana.integreatly.org_grafanadashboards.yaml" "$scratch/crds/"

dir="$(module_dir "$PROMETHEUS_OPERATOR_MODULE" "$PROMETHEUS_OPERATOR_VERSION")"
cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,prometheusrules}.yaml "$scratch/crds/"

dir="$(module_dir "$ARGOCD_MODULE" "$ARGOCD_VERSION")"
cp "$dir"/manifests/crds/{application,appproject}-crd.yaml "$scratch/crds/"

# Files in the module cache are read-only; the copies must be removable with the cache folder.
chmod u+w "$scratch"/crds/*
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$scratch/crds" "$out"
touch "$out/.complete"
echo "$out"
