#!/usr/bin/env bash
# Three `causeway serve` replicas on one private PostgreSQL and one GitOps directory, behind
# HAProxy (health checks on /readyz), under a mixed load from wrk (catalog queries, portal pages,
# provisioning applies), restarted one at a time with SIGTERM while the load runs. Prints a
# Markdown report (tests/load/report.py) and exits non-zero when a target is missed:
#
#   - no failed request: every response 2xx/3xx or 409 (an apply while the environment's previous
#     task is unfinished), no connection error or timeout;
#   - every apply accepted (202) is a task that completed, none claimed more than once;
#   - each replica leaves the load balancer (its /readyz turns 503) before it stops accepting, and
#     exits with status 0;
#   - the drift reconciler's lease moves to a live replica, well before it would have expired;
#   - (full run) each replica's RSS stays flat over its last minutes.
#
#   tests/load/replicas.sh [--short] [PATH_TO_CAUSEWAY]
#
# --short (or SHORT=1): 30 s, one restart (of the lease holder), a modest load; what `make test`
# runs. Otherwise DURATION seconds (default 600): 20% before the restarts, 30% during (RESTARTS
# restarts, default 6: every replica twice, in turn), the rest after. Other knobs: CONNECTIONS,
# DELAY_MS (each wrk connection waits this long between its requests), SAMPLE_SECS (RSS), KEEP=1
# (keep the working directory). The binary is the first argument, else CAUSEWAY_BIN, else
# $CARGO_TARGET_DIR/debug/causeway. Needs haproxy, wrk, psql and curl (`make setup` installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"

short=${SHORT:-0}
args=()
for arg in "$@"; do
    case "$arg" in
    --short) short=1 ;;
    *) args+=("$arg") ;;
    esac
done
bin=${args[0]:-${CAUSEWAY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/causeway/target}/debug/causeway}}
[[ -x "$bin" ]] || { echo "replicas.sh: no causeway binary at $bin (build it: cargo build -p causeway)" >&2; exit 2; }
for tool in haproxy wrk psql curl python3; do
    command -v "$tool" >/dev/null || { echo "replicas.sh: $tool is missing; run tests/scripts/setup.sh (make setup)" >&2; exit 2; }
done

# A private PostgreSQL for the whole run, removed afterwards.
if [[ -z "${REPLICAS_POSTGRES:-}" ]]; then
    export REPLICAS_POSTGRES=1 SHORT=$short
    exec "$root/tests/scripts/with-postgres.sh" "$0" "$@"
fi
db=${TEST_POSTGRES_URL:?}

if ((short)); then
    duration=${DURATION:-30}
    before=$((duration * 27 / 100)); during=$((duration * 46 / 100))
    restarts=1 connections=${CONNECTIONS:-4} delay_ms=${DELAY_MS:-40} sample=${SAMPLE_SECS:-1}
else
    duration=${DURATION:-600}
    before=$((duration * 20 / 100)); during=$((duration * 30 / 100))
    restarts=${RESTARTS:-6} connections=${CONNECTIONS:-8} delay_ms=${DELAY_MS:-10} sample=${SAMPLE_SECS:-5}
fi
after=$((duration - before - during))
shutdown_delay=3

work=$(mktemp -d /tmp/causeway-replicas.XXXXXX)
pids=()      # every process started here, by id
cleanup() {
    local status=$?
    trap - EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in 1 2 3; do [[ -f "$work/r$i.pid" ]] && kill -TERM "$(cat "$work/r$i.pid")" 2>/dev/null || true; done
    local deadline=$((SECONDS + shutdown_delay + 10))
    for i in 1 2 3; do
        while [[ -f "$work/r$i.pid" ]] && kill -0 "$(cat "$work/r$i.pid")" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
        [[ -f "$work/r$i.pid" ]] && kill -KILL "$(cat "$work/r$i.pid")" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if ((status != 0)) && [[ "${KEEP:-0}" != 1 ]]; then
        echo "replicas.sh: logs of the failed run:" >&2
        for log in "$work/setup.log" "$work"/r*.log "$work/haproxy.log"; do
            [[ -f "$log" ]] || continue
            echo "--- $log (last lines)" >&2
            tail -n 15 "$log" >&2
        done
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then echo "replicas.sh: kept $work" >&2; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
log() { echo "==> [$(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sql() { psql "$db" -XAtq -c "$1"; }

# Only this run's configuration reaches the replicas (causeway refuses unknown CAUSEWAY_* variables,
# CAUSEWAY_BIN among them).
while read -r var; do unset "$var"; done < <(compgen -e | grep '^CAUSEWAY_' || true)
export CAUSEWAY_DATABASE_URL=$db CAUSEWAY_GITOPS_DIR=$work/gitops CAUSEWAY_LOG_FORMAT=json \
    CAUSEWAY_SHUTDOWN_DELAY_SECS=$shutdown_delay CAUSEWAY_SITE_ROOT=$root/target/site

log "database $db; binary $bin"
"$bin" migrate >"$work/setup.log" 2>&1
"$bin" seed >>"$work/setup.log" 2>&1
(cd "$root" && "$bin" catalog import server/causeway/demo/organisation) >>"$work/setup.log" 2>&1
token=$("$bin" token create --user user:default/ada --name load 2>>"$work/setup.log" | tail -n 1)
# The GitOps repository does not exist yet: the replicas' first applies create it at once, which
# is part of what this run checks.

ports=("" "$(free_port)" "$(free_port)" "$(free_port)")
lb_port=$(free_port)
stats_port=$(free_port)
printf 'replica\tincarnation\tpid\tstarted\tlog\n' >"$work/incarnations.tsv"
incarnation=(0 0 0 0)

# Starts replica $1 in the background: its process id goes to r$1.pid, its exit status to r$1.exit.
start_replica() {
    local i=$1 n=$((incarnation[$1] + 1))
    incarnation[$i]=$n
    rm -f "$work/r$i.pid" "$work/r$i.exit"
    (
        trap - EXIT INT TERM
        CAUSEWAY_LISTEN="127.0.0.1:${ports[$i]}" "$bin" serve >"$work/r$i.$n.log" 2>&1 &
        echo $! >"$work/r$i.pid"
        wait $! && rc=0 || rc=$?
        echo "$rc" >"$work/r$i.exit"
    ) &
    pids+=($!)
    while [[ ! -s "$work/r$i.pid" ]]; do sleep 0.05; done
    printf 'r%s\t%s\t%s\t%s\t%s\n' "$i" "$n" "$(cat "$work/r$i.pid")" "$(now)" "r$i.$n.log" >>"$work/incarnations.tsv"
}

wait_ready() { # replica, seconds
    local deadline=$((SECONDS + $2))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ports[$1]}/readyz" || true)" == 200 ]]; do
        ((SECONDS < deadline)) || { echo "replica r$1 not ready after $2 s" >&2; return 1; }
        sleep 0.1
    done
}

# The load balancer's view of replica $1: UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up).
lb_status() {
    curl -s "http://127.0.0.1:$stats_port/stats;csv" | awk -F, -v s="r$1" '$1 == "replicas" && $2 == s { print $18 }'
}

wait_lb() { # replica, status, seconds
    local deadline=$((SECONDS + $3))
    until [[ "$(lb_status "$1")" == "$2" ]]; do
        ((SECONDS < deadline)) || { echo "HAProxy did not see r$1 $2 within $3 s (it says $(lb_status "$1"))" >&2; return 1; }
        sleep 0.1
    done
}

for i in 1 2 3; do start_replica "$i"; done
for i in 1 2 3; do wait_ready "$i" 60; done
log "replicas on ports ${ports[1]}, ${ports[2]}, ${ports[3]}"

LB_PORT=$lb_port STATS_PORT=$stats_port R1_PORT=${ports[1]} R2_PORT=${ports[2]} R3_PORT=${ports[3]} \
    haproxy -f "$here/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do wait_lb "$i" UP 30; done
log "HAProxy on port $lb_port sees all three UP"

services=$(curl -sf -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$lb_port/api/catalog/entities/by-query?filter=kind=component,relations.ownedBy=group:default/payments&fields=metadata.name&limit=100" \
    | python3 -c 'import json, sys; print(" ".join(i["metadata"]["name"] for i in json.load(sys.stdin)["items"]))')
[[ -n "$services" ]] || { echo "no components owned by group:default/payments" >&2; exit 1; }

# Samples every replica's RSS every SAMPLE_SECS, and the drift reconciler's lease every 0.5 s.
(
    trap - EXIT INT TERM
    tick=0
    while true; do
        t=$(now)
        if ((tick % (sample * 2) == 0)); then
            for i in 1 2 3; do
                pid=$(cat "$work/r$i.pid" 2>/dev/null || true)
                rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
                [[ -n "$rss" ]] && printf '%s\tr%s\t%s\t%s\n' "$t" "$i" "$pid" "$rss" >>"$work/rss.tsv"
            done
        fi
        # Stamped when the answer is in, so that a sample older than an event was read before it.
        holder=$(sql "SELECT holder || ' ' || expires_at FROM leases WHERE name = 'drift-reconciler'" 2>/dev/null || true)
        printf '%s\t%s\n' "$(now)" "$holder" >>"$work/lease.tsv"
        tick=$((tick + 1))
        sleep 0.5
    done
) &
pids+=($!)

# One restart of replica $1, with what the load balancer saw, appended to restarts.tsv.
restart() {
    local i=$1 pid down="" exited rc
    pid=$(cat "$work/r$i.pid")
    local signalled; signalled=$(now)
    kill -TERM "$pid"
    while [[ ! -f "$work/r$i.exit" ]]; do
        if [[ -z "$down" && "$(lb_status "$i")" == DOWN* ]]; then down=$(now); fi
        sleep 0.1
    done
    exited=$(now)
    rc=$(cat "$work/r$i.exit")
    start_replica "$i"
    wait_ready "$i" 60
    wait_lb "$i" UP 30
    printf 'r%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$pid" "$signalled" "${down:-none}" "$exited" "$rc" "$(now)" >>"$work/restarts.tsv"
    log "r$i restarted (exit status $rc)"
}

# Which replica process holds the drift reconciler's lease (1, 2 or 3), if any.
lease_replica() {
    local holder
    holder=$(sql "SELECT holder FROM leases WHERE name = 'drift-reconciler'") || return 0
    [[ -n "$holder" ]] || return 0
    grep -l "\"replica\":\"$holder\"" "$work"/r*.log 2>/dev/null | sed -n 's|.*/r\([0-9]\)\.[0-9]*\.log|\1|p' | head -n 1
}

run_phase() { # name, seconds
    log "phase $1: $2 s, $connections connections, $delay_ms ms between requests"
    printf '%s\t%s\n' "$1" "$(now)" >>"$work/phases.tsv"
    WRK_REPORT="$work/wrk-$1.json" wrk -t "$(((connections + 3) / 4))" -c "$connections" -d "${2}s" --timeout 10s \
        -s "$here/mixed.lua" "http://127.0.0.1:$lb_port" -- "$token" "$delay_ms" $services >"$work/wrk-$1.txt" 2>&1
}

printf 'replica\tpid\tsignalled\tlb_down\texited\tstatus\tback\n' >"$work/restarts.tsv"
started=$(now)
run_phase before "$before"
(
    trap - EXIT INT TERM
    gap=$((during / restarts))
    for ((k = 0; k < restarts; k++)); do
        slot=$((SECONDS + gap))
        sleep 2
        if ((short)); then
            i=$(lease_replica); i=${i:-1}
        else
            i=$((k % 3 + 1))
        fi
        restart "$i"
        while ((SECONDS < slot - 2 && k + 1 < restarts)); do sleep 0.5; done
    done
) >"$work/restarter.log" 2>&1 &
restarter=$!
pids+=($restarter)
run_phase during "$during"
if ! wait "$restarter"; then
    cat "$work/restarter.log" >&2
    echo "replicas.sh: the rolling restart failed" >&2
    exit 1
fi
run_phase after "$after"
ended=$(now)
curl -s "http://127.0.0.1:$stats_port/stats;csv" >"$work/haproxy-stats.csv"

# Every task accepted must end; one cut off by a stopped replica would be resumed after its lease.
deadline=$((SECONDS + 60))
while [[ "$(sql "SELECT count(*) FROM tasks WHERE status IN ('open', 'processing')")" != 0 ]] && ((SECONDS < deadline)); do sleep 0.5; done
since=$(python3 -c "print(int($started * 1000))")
sql "SELECT id, kind, status, attempts, coalesce(error, '') FROM tasks WHERE created_at >= $since" | tr '|' '\t' >"$work/tasks.tsv"
sql "SELECT s.task_id, s.position, s.attempts FROM task_steps s JOIN tasks t ON t.id = s.task_id
     WHERE t.created_at >= $since AND s.attempts > 1" | tr '|' '\t' >"$work/steps-repeated.tsv"
for i in 1 2 3; do
    printf 'r%s\t%s\n' "$i" "$(kill -0 "$(cat "$work/r$i.pid")" 2>/dev/null && cat "$work/r$i.pid" || echo none)"
done >"$work/alive.tsv"
for log in "$work"/r*.*.log; do
    sed -n 's/.*"this replica now reconciles drift".*"replica":"\([^"]*\)".*/\1/p' "$log" | while read -r holder; do
        printf '%s\t%s\n' "$holder" "$(basename "$log" .log)"
    done
done >"$work/holders.tsv"

python3 "$here/report.py" "$work" \
    --binary "$bin" --short "$short" --started "$started" --ended "$ended" \
    --connections "$connections" --delay-ms "$delay_ms" --shutdown-delay "$shutdown_delay" \
    --sample-secs "$sample" --services "$services"
