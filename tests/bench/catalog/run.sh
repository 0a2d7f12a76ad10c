#!/usr/bin/env bash
# The catalog benchmark: Causeway on SQLite and on PostgreSQL, and Backstage's catalog backend,
# on the same generated catalogs, with the same requests, in one run. `make bench-catalog` builds
# the release binary and calls this.
#
#   tests/bench/catalog/run.sh                           # SIZES="1000 10000 100000"
#   SIZES="1000 10000" tests/bench/catalog/run.sh
#
# The quick loop while working on the catalog (about 3 minutes per engine at 100k; the generated
# catalogs are kept in target/bench/catalog-data/):
#
#   cargo build --release -p causeway -p causeway-bench-probe
#   SIZES="100000" ENGINES="sqlite" BACKSTAGE_SIZES="" SEQ=200 PAGE_SEQ=50 \
#     CAUSEWAY_BIN=$CARGO_TARGET_DIR/release/causeway tests/bench/catalog/run.sh
#
# then again with ENGINES="postgres"; REFRESH=0 RESTART=0 leave out the rows after the pages.
#
# Environment:
#   SIZES             catalog sizes (default "1000 10000 100000")
#   ENGINES           Causeway's databases (default "sqlite postgres")
#   BACKSTAGE_SIZES   sizes Backstage also runs at (default "1000 10000"; "" skips Backstage;
#                     it needs ~150 s to ingest 10k and ~20 min for 50k)
#   SEQ               sequential requests per query (300); PAGE_SEQ for the portal page (100)
#   REFRESH           1 (default): after the portal pages, Causeway registers and refreshes a
#                     one-entity location, refreshes the last part with one entity changed, and
#                     times the first queries after a write; 0 leaves this out
#   RESTART           1 (default): then stops Causeway (SIGTERM) and times its start-up on the same
#                     database (PostgreSQL is stopped only after it); 0 leaves this out
#   SEED              generator seed (42, the Backstage baseline's)
#   CAUSEWAY_BIN      the binary (default: $CARGO_TARGET_DIR/release/causeway)
#   BENCH_PROBE       the latency probe (default: $CARGO_TARGET_DIR/release/causeway-bench-probe)
#   BACKSTAGE_DIR     where Backstage is installed from npm (default ~/.cache/causeway/bench/…)
#   PROCESSING_INTERVAL  Backstage's catalog.processingInterval in s (default: its own 100-150 s)
# Output: the Markdown table on stdout; every run's JSON in target/bench/catalog-<time>.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
SIZES=${SIZES:-"1000 10000 100000"}
ENGINES=${ENGINES:-"sqlite postgres"}
BACKSTAGE_SIZES=${BACKSTAGE_SIZES-"1000 10000"}
SEQ=${SEQ:-300}
PAGE_SEQ=${PAGE_SEQ:-100}
SEED=${SEED:-42}
REFRESH=${REFRESH:-1}
RESTART=${RESTART:-1}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/causeway/target}
CAUSEWAY_BIN=${CAUSEWAY_BIN:-$CARGO_TARGET_DIR/release/causeway}
# The compiled latency probe (tests/bench/catalog/probe), which bench.py runs for every latency row.
BENCH_PROBE=${BENCH_PROBE:-$CARGO_TARGET_DIR/release/causeway-bench-probe}
export BENCH_PROBE

# Pinned versions of the Backstage baseline (better-sqlite3 13 crashes on Node 20).
V_DEFAULTS=0.19.0     # @backstage/backend-defaults
V_CATALOG=4.0.5       # @backstage/plugin-catalog-backend
V_SQLITE=12.11.1      # better-sqlite3
BACKSTAGE_DIR=${BACKSTAGE_DIR:-$HOME/.cache/causeway/bench/backstage-$V_DEFAULTS-$V_CATALOG-$V_SQLITE}

out_dir=$root/target/bench
stamp=$(date -u +%Y%m%d-%H%M%S)
work=$out_dir/catalog-$stamp
data=$out_dir/catalog-data
mkdir -p "$work" "$data"
results=$work/runs.jsonl
: >"$results"

log() { printf '[bench-catalog %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# Stops whatever a run left behind if this script is interrupted: the server whose pid bench.py
# recorded (its own process group) and the private PostgreSQL of the current run.
pg_state=""
cleanup() {
    local pidfile pid
    for pidfile in "$work"/*/server.pid; do
        [[ -f $pidfile ]] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
    done
    if [[ -n $pg_state ]]; then "$root/tests/scripts/postgres.sh" down "$pg_state" || true; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

in_list() { local x=$1; shift; for y in "$@"; do [[ $x == "$y" ]] && return 0; done; return 1; }

need_backstage=""
for n in $SIZES; do
    # shellcheck disable=SC2086
    in_list "$n" $BACKSTAGE_SIZES && need_backstage=1
done

[[ -x $CAUSEWAY_BIN ]] || { echo "no Causeway binary at $CAUSEWAY_BIN (make bench-catalog builds it)" >&2; exit 1; }
[[ -x $BENCH_PROBE ]] || { echo "no latency probe at $BENCH_PROBE (make bench-catalog builds it)" >&2; exit 1; }

# ---- Backstage from npm, installed once per pinned version set ----
backstage_ok() {
    (cd "$BACKSTAGE_DIR" && node -e "
      const want = {'@backstage/backend-defaults':'$V_DEFAULTS','@backstage/plugin-catalog-backend':'$V_CATALOG','better-sqlite3':'$V_SQLITE'};
      for (const [p, v] of Object.entries(want)) {
        // must resolve inside this directory, not from a parent's node_modules
        if (!require.resolve(p + '/package.json').startsWith('$BACKSTAGE_DIR/node_modules/')) process.exit(1);
        if (require(p + '/package.json').version !== v) process.exit(1);
      }
      const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();
    ") 2>/dev/null
}
if [[ -n $need_backstage ]]; then
    command -v node >/dev/null || { echo "node is required for the Backstage side (Node 20)" >&2; exit 1; }
    mkdir -p "$BACKSTAGE_DIR"
    cp -f "$here"/backstage/{package.json,package-lock.json,index.js,app-config.yaml} "$BACKSTAGE_DIR/"
    if ! backstage_ok; then
        log "installing Backstage's catalog backend from npm into $BACKSTAGE_DIR"
        nodedir=()
        # better-sqlite3 compiles from source when no prebuilt binary can be downloaded; use the
        # local Node headers instead of downloading them.
        [[ -f /usr/include/node/node.h ]] && nodedir=(--nodedir=/usr)
        (cd "$BACKSTAGE_DIR" && npm ci --no-audit --no-fund ${nodedir[@]+"${nodedir[@]}"} >&2) || true
        if ! backstage_ok; then
            (cd "$BACKSTAGE_DIR" && npm rebuild better-sqlite3 ${nodedir[@]+"${nodedir[@]}"} >&2) || true
        fi
        backstage_ok || { echo "Backstage install failed (npm output above)" >&2; exit 1; }
    fi
fi

# ---- runs ----
for n in $SIZES; do
    expect=$data/catalog-$n-seed$SEED.expect.json
    if [[ ! -s $expect ]]; then  # the generator writes the expectation file last
        log "generating $n entities (seed $SEED)"
        python3 "$here/gen_catalog.py" "$n" "$data/catalog-$n-seed$SEED.yaml" "$expect" --seed "$SEED"
    fi
    for engine in $ENGINES; do
        dir=$work/causeway-$engine-$n
        mkdir -p "$dir"
        case $engine in
        sqlite) url="sqlite://$dir/causeway.db" ;;
        postgres)
            pg_state=$dir/pg
            url=$("$root/tests/scripts/postgres.sh" up "$pg_state")
            ;;
        *) echo "unknown engine $engine (sqlite or postgres)" >&2; exit 2 ;;
        esac
        log "Causeway $engine, N=$n"
        python3 "$here/bench.py" causeway --n "$n" --expect "$expect" --workdir "$dir" \
            --port "$(free_port)" --seq "$SEQ" --page-seq "$PAGE_SEQ" --bin "$CAUSEWAY_BIN" \
            --engine "$engine" --db-url "$url" --refresh "$REFRESH" --restart "$RESTART" \
            >>"$results" || log "Causeway $engine N=$n failed (see $results)"
        if [[ $engine == postgres ]]; then
            "$root/tests/scripts/postgres.sh" down "$pg_state"
            pg_state=""
        fi
    done
    # shellcheck disable=SC2086
    if in_list "$n" $BACKSTAGE_SIZES; then
        dir=$work/backstage-$n
        log "Backstage, N=$n (ingestion takes minutes at 10k)"
        extra=()
        [[ -n ${PROCESSING_INTERVAL:-} ]] && extra=(--processing-interval "$PROCESSING_INTERVAL")
        python3 "$here/bench.py" backstage --n "$n" --expect "$expect" --workdir "$dir" \
            --port "$(free_port)" --seq "$SEQ" --backstage-dir "$BACKSTAGE_DIR" \
            ${extra[@]+"${extra[@]}"} >>"$results" || log "Backstage N=$n failed (see $results)"
    fi
done

title="Catalog benchmark, $(date -u +%F), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Causeway $("$CAUSEWAY_BIN" version | awk '{print $2}') release build, Backstage catalog backend $V_CATALOG on Node $(node --version 2>/dev/null || echo '-') with in-memory SQLite, seed $SEED, $SEQ sequential requests per query"
echo
python3 "$here/report.py" "$results" "$out_dir/catalog-$stamp.json" --title "$title"
echo
log "results: $out_dir/catalog-$stamp.json (raw runs and server logs in $work)"
