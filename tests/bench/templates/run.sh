#!/usr/bin/env bash
# The templates benchmark: Causeway's template engine beside Backstage's scaffolder backend, in
# one run. Both dry-run the same generated template (a 200-file skeleton) through
# `POST /api/scaffolder/v2/dry-run`; Causeway also runs its demo `service` template end to end.
# `make bench-templates` builds the release binary and calls this.
#
# Environment:
#   FILES         skeleton files (200); SEED the generator's seed (42)
#   DRY_RUNS      measured dry runs per system (100), after WARMUP (5)
#   RUNS          measured full runs (20), after 2 warm-up runs
#   BACKSTAGE     "0" skips Backstage
#   CAUSEWAY_BIN  the binary (default: $CARGO_TARGET_DIR/release/causeway)
#   BACKSTAGE_DIR where Backstage is installed from npm (default ~/.cache/causeway/bench/…)
# Output: the Markdown table on stdout; the runs' JSON in target/bench/templates-<time>.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
FILES=${FILES:-200}
SEED=${SEED:-42}
DRY_RUNS=${DRY_RUNS:-100}
WARMUP=${WARMUP:-5}
RUNS=${RUNS:-20}
BACKSTAGE=${BACKSTAGE:-1}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/causeway/target}
CAUSEWAY_BIN=${CAUSEWAY_BIN:-$CARGO_TARGET_DIR/release/causeway}

# Pinned versions of the Backstage baseline (package.json and package-lock.json beside this).
V_DEFAULTS=0.19.0     # @backstage/backend-defaults
V_SCAFFOLDER=4.3.0    # @backstage/plugin-scaffolder-backend
V_SQLITE=12.11.1      # better-sqlite3
BACKSTAGE_DIR=${BACKSTAGE_DIR:-$HOME/.cache/causeway/bench/backstage-scaffolder-$V_DEFAULTS-$V_SCAFFOLDER-$V_SQLITE}

out_dir=$root/target/bench
stamp=$(date -u +%Y%m%d-%H%M%S)
work=$out_dir/templates-$stamp
mkdir -p "$work"
results=$work/runs.jsonl
: >"$results"

log() { printf '[bench-templates %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# Stops a server that bench.py started if this script is interrupted (its own process group).
cleanup() {
    local pidfile pid
    for pidfile in "$work"/*/server.pid; do
        [[ -f $pidfile ]] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
    done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

[[ -x $CAUSEWAY_BIN ]] || { echo "no Causeway binary at $CAUSEWAY_BIN (make bench-templates builds it)" >&2; exit 1; }

# ---- Backstage from npm, installed once per pinned version set ----
backstage_ok() {
    (cd "$BACKSTAGE_DIR" && node -e "
      const want = {'@backstage/backend-defaults':'$V_DEFAULTS','@backstage/plugin-scaffolder-backend':'$V_SCAFFOLDER','better-sqlite3':'$V_SQLITE'};
      for (const [p, v] of Object.entries(want)) {
        // must resolve inside this directory, not from a parent's node_modules
        if (!require.resolve(p + '/package.json').startsWith('$BACKSTAGE_DIR/node_modules/')) process.exit(1);
        if (require(p + '/package.json').version !== v) process.exit(1);
      }
      const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();
    ") 2>/dev/null
}
if [[ $BACKSTAGE != 0 ]]; then
    command -v node >/dev/null || { echo "node is required for the Backstage side (Node 20)" >&2; exit 1; }
    mkdir -p "$BACKSTAGE_DIR"
    cp -f "$here"/backstage/{package.json,package-lock.json,index.js,app-config.yaml} "$BACKSTAGE_DIR/"
    if ! backstage_ok; then
        log "installing Backstage's scaffolder backend from npm into $BACKSTAGE_DIR"
        # better-sqlite3 compiles from source when no prebuilt binary can be downloaded; use the
        # local Node headers instead of downloading them.
        nodedir=()
        [[ -f /usr/include/node/node.h ]] && nodedir=(--nodedir=/usr)
        (cd "$BACKSTAGE_DIR" && nice -n 10 npm ci --no-audit --no-fund ${nodedir[@]+"${nodedir[@]}"} >&2) || true
        if ! backstage_ok; then
            (cd "$BACKSTAGE_DIR" && nice -n 10 npm rebuild better-sqlite3 ${nodedir[@]+"${nodedir[@]}"} >&2) || true
        fi
        backstage_ok || { echo "Backstage install failed (npm output above)" >&2; exit 1; }
    fi
fi

# ---- the template, then one run per system ----
tpl=$work/template
log "generating the template: $(python3 "$here/gen_template.py" "$tpl" --files "$FILES" --seed "$SEED")"

log "Causeway: $DRY_RUNS dry runs, then $RUNS full runs of the service template"
python3 "$here/bench.py" causeway --bin "$CAUSEWAY_BIN" --template-dir "$tpl" --workdir "$work/causeway" \
    --port "$(free_port)" --dry-runs "$DRY_RUNS" --warmup "$WARMUP" --runs "$RUNS" \
    >>"$results" || log "Causeway failed (see $results)"

if [[ $BACKSTAGE != 0 ]]; then
    log "Backstage: $DRY_RUNS dry runs"
    python3 "$here/bench.py" backstage --backstage-dir "$BACKSTAGE_DIR" --template-dir "$tpl" \
        --workdir "$work/backstage" --port "$(free_port)" --dry-runs "$DRY_RUNS" --warmup "$WARMUP" \
        >>"$results" || log "Backstage failed (see $results)"
fi

title="Templates benchmark, $(date -u +%F), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Causeway $("$CAUSEWAY_BIN" version | awk '{print $2}') release build on SQLite, Backstage scaffolder backend $V_SCAFFOLDER (backend-defaults $V_DEFAULTS) on Node $(node --version 2>/dev/null || echo '-'), $FILES-file skeleton (seed $SEED)"
echo
python3 "$here/report.py" "$results" "$out_dir/templates-$stamp.json" --title "$title"
echo
log "results: $out_dir/templates-$stamp.json (raw runs and server logs in $work)"
