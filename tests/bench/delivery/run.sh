#!/usr/bin/env bash
# The delivery benchmark: a million delivery events of 500 services over 100 days posted to
# `POST /api/events` in batches, then DORA's measures read with `GET /api/delivery/dora` for the
# organisation, each team and each service, the answers checked against what the generator
# sent. One run per engine, each on a fresh database. `make bench-delivery` builds the release
# binary and calls this.
#
#   tests/bench/delivery/run.sh
#   ENGINES=postgres EVENTS=100000 tests/bench/delivery/run.sh
#
# Environment:
#   ENGINES       the databases ("sqlite postgres"; PostgreSQL from tests/scripts/postgres.sh)
#   EVENTS        events generated (1000000); SERVICES (500), TEAMS (25), DAYS (100) of history
#                 ending yesterday (END, YYYY-MM-DD), SEED (7)
#   SENDERS       connections posting batches at once (4)
#   ORG, TEAM, SERVICE  DORA requests timed per scope (20, 50, 200)
#   CAUSEWAY_BIN  the binary (default: $CARGO_TARGET_DIR/release/causeway)
# Output: the Markdown table on stdout; the runs' JSON in target/bench/delivery-<time>.json. The
# generated events are kept in target/bench/delivery-data/ and reused by the next run with the
# same parameters.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
ENGINES=${ENGINES:-"sqlite postgres"}
EVENTS=${EVENTS:-1000000}
SERVICES=${SERVICES:-500}
TEAMS=${TEAMS:-25}
DAYS=${DAYS:-100}
END=${END:-$(date -u -d yesterday +%F)}
SEED=${SEED:-7}
SENDERS=${SENDERS:-4}
ORG=${ORG:-20}
TEAM=${TEAM:-50}
SERVICE=${SERVICE:-200}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/causeway/target}
CAUSEWAY_BIN=${CAUSEWAY_BIN:-$CARGO_TARGET_DIR/release/causeway}

out_dir=$root/target/bench
stamp=$(date -u +%Y%m%d-%H%M%S)
work=$out_dir/delivery-$stamp
# The generator's version is part of the name: a changed generator makes new data.
data=$out_dir/delivery-data/gen2-s$SERVICES-t$TEAMS-e$EVENTS-d$DAYS-end$END-seed$SEED
mkdir -p "$work" "$data"
results=$work/runs.jsonl
: >"$results"

log() { printf '[bench-delivery %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# Stops the server bench.py started if this script is interrupted (its own process group), and
# the private PostgreSQL of the current run.
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

[[ -x $CAUSEWAY_BIN ]] || { echo "no Causeway binary at $CAUSEWAY_BIN (make bench-delivery builds it)" >&2; exit 1; }

if [[ ! -s $data/expect.json ]]; then  # the generator writes the expectation file last
    log "generating $EVENTS events of $SERVICES services over $DAYS days ending $END (seed $SEED)"
    python3 "$here/gen_events.py" "$data" --services "$SERVICES" --teams "$TEAMS" --events "$EVENTS" \
        --days "$DAYS" --end "$END" --seed "$SEED" >&2
fi

for engine in $ENGINES; do
    dir=$work/$engine
    mkdir -p "$dir"
    url=()
    case $engine in
    sqlite) ;;
    postgres)
        pg_state=$dir/pg
        url=(--db-url "$("$root/tests/scripts/postgres.sh" up "$pg_state")")
        ;;
    *) echo "unknown engine $engine (sqlite or postgres)" >&2; exit 2 ;;
    esac
    log "$engine: ingestion, then DORA's measures"
    python3 "$here/bench.py" --bin "$CAUSEWAY_BIN" --data "$data" --workdir "$dir" --port "$(free_port)" \
        --engine "$engine" ${url[@]+"${url[@]}"} --senders "$SENDERS" --org "$ORG" --team "$TEAM" \
        --service "$SERVICE" >>"$results" || log "$engine failed (see $results)"
    if [[ -n $pg_state ]]; then
        "$root/tests/scripts/postgres.sh" down "$pg_state"
        pg_state=""
    fi
done

pg_version=""
for d in /usr/lib/postgresql/*/bin; do [[ -x $d/postgres ]] && pg_version=$("$d/postgres" --version | awk '{print $3}'); done
title="Delivery benchmark, $(date -u +%F), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, Causeway $("$CAUSEWAY_BIN" version | awk '{print $2}') release build, SQLite (WAL) and PostgreSQL ${pg_version:-?} (fsync off, as tests/scripts/postgres.sh starts it), $SENDERS senders"
command="ENGINES=\"$ENGINES\" EVENTS=$EVENTS SERVICES=$SERVICES TEAMS=$TEAMS DAYS=$DAYS END=$END SEED=$SEED SENDERS=$SENDERS make bench-delivery"
echo
python3 "$here/report.py" "$results" "$out_dir/delivery-$stamp.json" --title "$title" --command "$command"
echo
log "results: $out_dir/delivery-$stamp.json (raw runs and server logs in $work)"
