#!/usr/bin/env bash
# Installs what `make run` and `make test` need beyond Rust itself, when missing:
# Debian's chromium and chromium-driver (browser tests), PostgreSQL (store suite), the browser
# suite's npm dependencies (playwright-core, from the committed lock file), and schemathesis from
# PyPI (the API fuzz run, tests/api/schemathesis.sh) in a Python virtual environment under
# TOOLS_CACHE (default ~/.cache/causeway/tools), one per version, and the wasm32 target (rustup),
# which `make lint` needs before frontend/build.sh installs the rest of the wasm toolchain.
# Debian's haproxy and wrk run the replicas load test (tests/load/).
#
#   tests/scripts/setup.sh               everything
#   tests/scripts/setup.sh schemathesis  only schemathesis; prints the path of its command
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${TOOLS_CACHE:-$HOME/.cache/causeway/tools}
schemathesis_version=4.32.5

apt_install() {
    echo "==> installing Debian packages: $*" >&2
    local sudo_cmd=""; [[ $EUID -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >&2
}

install_schemathesis() {
    local venv="$tools/schemathesis-$schemathesis_version"
    if [[ ! -x "$venv/bin/schemathesis" ]]; then
        echo "==> installing schemathesis $schemathesis_version (PyPI) into $venv" >&2
        # Debian's python3 makes virtual environments only with python3-venv.
        python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version" >&2
    fi
    echo "$venv/bin/schemathesis"
}

if [[ "${1:-}" == schemathesis ]]; then
    install_schemathesis
    exit 0
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs npm)
# The replicas load test (tests/load/replicas.sh): HAProxy in front, wrk generating the load.
[[ -x /usr/sbin/haproxy ]] || command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    apt_install "${missing[@]}"
fi

# `make lint` checks the wasm crate before frontend/build.sh (which installs the target for its
# own builds) ever runs, so a fresh machine needs the target from here.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "==> installing the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown >&2
fi

if [[ ! -d "$root/tests/e2e/node_modules/playwright-core" ]]; then
    echo "==> installing the browser suite's npm dependencies" >&2
    (cd "$root/tests/e2e" && npm ci --silent --no-audit --no-fund)
fi

install_schemathesis >/dev/null
