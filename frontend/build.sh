#!/usr/bin/env bash
# Builds the browser bundle into SITE_ROOT/pkg (default target/site/pkg):
#   causeway.js + causeway_bg.wasm (wasm-bindgen output) and causeway.css.
#
#   frontend/build.sh [release|dev]
#
# Installs what it needs when missing, from the registries only: the wasm32 target (rustup),
# wasm-bindgen-cli at exactly the version in Cargo.lock (crates.io), and wasm-opt from npm
# `binaryen@132` for release builds (Debian's wasm-opt 108 produces bundles that fail to hydrate).
# Tools are cached by version under TOOLS_CACHE (default ~/.cache/causeway/tools).
set -euo pipefail

profile=${1:-release}
root=$(cd "$(dirname "$0")/.." && pwd)
site=${SITE_ROOT:-$root/target/site}
tools=${TOOLS_CACHE:-$HOME/.cache/causeway/tools}
target_dir=${CARGO_TARGET_DIR:-$root/target}
binaryen_version=132.0.0

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
[[ -n "$bindgen_version" ]] || { echo "wasm-bindgen is not in Cargo.lock" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "==> installing the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown >&2
fi

bindgen="$tools/wasm-bindgen-$bindgen_version/bin/wasm-bindgen"
if [[ ! -x "$bindgen" ]]; then
    echo "==> installing wasm-bindgen-cli $bindgen_version (once per version, ~6 minutes on 2 cores)" >&2
    # Not --locked: its lock file pins a webpki-roots release that some registry mirrors lack.
    cargo install wasm-bindgen-cli --version "$bindgen_version" --root "$tools/wasm-bindgen-$bindgen_version" >&2
fi

case "$profile" in
release) cargo_profile=wasm-release; out_dir=wasm-release ;;
dev) cargo_profile=dev; out_dir=debug ;;
*) echo "usage: frontend/build.sh [release|dev]" >&2; exit 2 ;;
esac

echo "==> building the browser bundle ($profile)" >&2
(cd "$root" && cargo build -p causeway-frontend --lib --target wasm32-unknown-unknown --profile "$cargo_profile")

mkdir -p "$site/pkg"
"$bindgen" --target web --no-typescript --out-dir "$site/pkg" --out-name causeway \
    "$target_dir/wasm32-unknown-unknown/$out_dir/causeway_frontend.wasm"

if [[ "$profile" == release ]]; then
    wasm_opt="$tools/binaryen-$binaryen_version/node_modules/.bin/wasm-opt"
    if [[ ! -x "$wasm_opt" ]]; then
        echo "==> installing wasm-opt (npm binaryen@$binaryen_version)" >&2
        mkdir -p "$tools/binaryen-$binaryen_version"
        npm install --silent --no-audit --no-fund --prefix "$tools/binaryen-$binaryen_version" "binaryen@$binaryen_version" >&2
    fi
    "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$site/pkg/causeway_bg.wasm" -o "$site/pkg/causeway_bg.wasm"
fi

cp "$root/app/style/main.css" "$site/pkg/causeway.css"
cp "$root/app/style/favicon.svg" "$site/pkg/favicon.svg"
size=$(gzip -9 -c "$site/pkg/causeway_bg.wasm" | wc -c)
echo "==> $site/pkg: causeway_bg.wasm $(wc -c <"$site/pkg/causeway_bg.wasm") bytes, $size bytes gzipped" >&2
