#!/usr/bin/env bash
# Installs what `make run` and `make test` need beyond Rust itself, when missing:
# Debian's chromium and chromium-driver (browser tests), PostgreSQL (store suite), and the browser
# suite's npm dependencies (playwright-core, from the committed lock file). The wasm toolchain is
# installed by frontend/build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=""; [[ $EUID -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

if [[ ! -d "$root/tests/e2e/node_modules/playwright-core" ]]; then
    echo "==> installing the browser suite's npm dependencies" >&2
    (cd "$root/tests/e2e" && npm ci --silent --no-audit --no-fund)
fi
