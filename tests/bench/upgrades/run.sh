#!/usr/bin/env bash
# The upgrades benchmark: a fleet of services created from one template, upgraded to the
# template's next version as one task, the way a platform team does it through the REST API.
# Each fleet size is set up once (services created by running the template, some repositories
# edited by their team, version 2 published) and upgraded once per pace from the same state; see
# bench.py for what is measured. `make bench-upgrades` builds the release binary and calls this.
#
# Environment:
#   SERVICES      the fleet (200); COMPARE the smaller fleets run too, to show whether memory
#                 grows with the fleet ("50"; "" for none)
#   PACES         upgrade_pace_ms values, one measured run each ("100 0": the default pace, and none)
#   PROFILE       "1" (default) adds a run at pace 0 through a git wrapper with git's trace2, at
#                 SERVICES only: git processes and their time per service; "0" skips it
#   ENGINE        sqlite (default) or postgres (a private PostgreSQL from tests/scripts/postgres.sh)
#   REPEAT        measured runs per pace (3); the one with the median time is reported
#   FILES         skeleton files (30)
#   SERVER_TMPDIR the server's TMPDIR, where it makes each upgrade's scratch repository (default:
#                 the caller's TMPDIR, else /tmp); e.g. a directory on tmpfs below /dev/shm
#   CAUSEWAY_BIN  the binary (default: $CARGO_TARGET_DIR/release/causeway)
# Output: the Markdown table on stdout; the runs' JSON in target/bench/upgrades-<time>.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
SERVICES=${SERVICES:-200}
COMPARE=${COMPARE-50}
PACES=${PACES:-"100 0"}
PROFILE=${PROFILE:-1}
ENGINE=${ENGINE:-sqlite}
REPEAT=${REPEAT:-3}
SERVER_TMPDIR=${SERVER_TMPDIR:-}
FILES=${FILES:-30}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/causeway/target}
CAUSEWAY_BIN=${CAUSEWAY_BIN:-$CARGO_TARGET_DIR/release/causeway}

out_dir=$root/target/bench
stamp=$(date -u +%Y%m%d-%H%M%S)
work=$out_dir/upgrades-$stamp
mkdir -p "$work"
results=$work/runs.jsonl
: >"$results"

log() { printf '[bench-upgrades %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# Stops a server that bench.py started if this script is interrupted (its own process group),
# and the private PostgreSQL of the current size.
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

# PostgreSQL's programs (createdb and dropdb keep and restore the database between runs), as
# tests/scripts/postgres.sh finds them.
pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/createdb ]] && { echo "$dir"; return 0; }
    done
    return 1
}

[[ -x $CAUSEWAY_BIN ]] || { echo "no Causeway binary at $CAUSEWAY_BIN (make bench-upgrades builds it)" >&2; exit 1; }
command -v git >/dev/null || { echo "git is required (the upgrades merge with git merge-tree)" >&2; exit 1; }

# The smaller fleets first: a broken setup shows in a minute rather than after the large one.
# shellcheck disable=SC2086  # COMPARE is a list of sizes
sizes=$(printf '%s\n' $COMPARE "$SERVICES" | awk 'NF && !seen[$0]++' | sort -n | xargs)
paces=$(echo "$PACES" | tr ' ' ',')
for n in $sizes; do
    db=()
    if [[ $ENGINE == postgres ]]; then
        pg_state=$work/pg-$n
        url=$("$root/tests/scripts/postgres.sh" up "$pg_state")
        pg_bin=$(pg_bin)
        db=(--db-url "$url" --pg-bin "$pg_bin")
    elif [[ $ENGINE != sqlite ]]; then
        echo "unknown ENGINE $ENGINE (sqlite or postgres)" >&2; exit 2
    fi
    tmpdir=()
    if [[ -n $SERVER_TMPDIR ]]; then mkdir -p "$SERVER_TMPDIR"; tmpdir=(--server-tmpdir "$SERVER_TMPDIR"); fi
    profile=()
    [[ $PROFILE == 1 && $n == "$SERVICES" ]] && profile=(--profile)
    log "$n services on $ENGINE: setup, then one upgrade per pace ($PACES ms)${profile:+ and a profiled run}"
    python3 "$here/bench.py" --bin "$CAUSEWAY_BIN" --workdir "$work/services-$n" --port "$(free_port)" \
        --services "$n" --files "$FILES" --paces "$paces" --engine "$ENGINE" --repeat "$REPEAT" \
        ${db[@]+"${db[@]}"} ${tmpdir[@]+"${tmpdir[@]}"} ${profile[@]+"${profile[@]}"} >>"$results" || log "$n services: failed (see $results)"
    if [[ -n $pg_state ]]; then "$root/tests/scripts/postgres.sh" down "$pg_state"; pg_state=""; fi
done

engine_text=SQLite
[[ $ENGINE == postgres ]] && engine_text="PostgreSQL $(basename "$(dirname "$(pg_bin)")")"
title="Upgrades benchmark, $(date -u +%F), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, Causeway $("$CAUSEWAY_BIN" version | awk '{print $2}') release build on $engine_text, git $(git --version | awk '{print $3}'), a $FILES-file skeleton"
echo
python3 "$here/report.py" "$results" "$out_dir/upgrades-$stamp.json" --title "$title"
echo
log "results: $out_dir/upgrades-$stamp.json (raw runs and server logs in $work)"
