#!/usr/bin/env python3
"""The Markdown report of tests/load/replicas.sh, from the files it leaves in its working
directory; exits 1 when a target is missed."""

import argparse
import datetime
import json
import os
import statistics
import sys

LEASE_LENGTH_S = 15.0  # the drift reconciler's lease (server/platform/src/provision/drift.rs)
LEAK_MIN_LIFE_S = 240.0  # the RSS check looks at replicas that served at least this long
EXPECTED_4XX = {409}  # an apply while the environment's previous task is unfinished


def rows(work, name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def ms(us):
    return f"{us / 1000:.1f}"


def mib(kb):
    return f"{kb / 1024:.0f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    for name in ("binary", "services"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("short", "connections", "delay-ms", "shutdown-delay", "sample-secs"):
        parser.add_argument(f"--{name}", type=int, required=True)
    for name in ("started", "ended"):
        parser.add_argument(f"--{name}", type=float, required=True)
    a = parser.parse_args()
    work = a.work
    missed = []
    out = []

    def target(ok, text):
        out.append(f"- {'met' if ok else '**missed**'}: {text}")
        if not ok:
            missed.append(text)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    build = "release" if "/release/" in a.binary else "debug" if "/debug/" in a.binary else a.binary
    day = datetime.datetime.fromtimestamp(a.started).strftime("%Y-%m-%d")
    out.append(f"## Replicas under load, restarted one by one ({'short' if a.short else 'full'} run, {day})")
    out.append("")
    out.append(
        f"{os.cpu_count()} cores ({cpu}); Causeway {build} build; three replicas, one PostgreSQL, one GitOps "
        f"directory, HAProxy checking `/readyz` every 500 ms (2 failures out, 2 successes in); "
        f"`CAUSEWAY_SHUTDOWN_DELAY_SECS={a.shutdown_delay}`. wrk: {a.connections} keep-alive connections "
        f"to HAProxy, each sending its next request {a.delay_ms} ms after the previous answer; per 10 "
        f"requests 6 catalog API queries, 3 portal pages and 1 `POST /api/provision/apply` (dev, a random "
        f"pod count) for one of {len(a.services.split())} Payments components, as Ada with a Bearer token. "
        f"Wall time {a.ended - a.started:.0f} s."
    )
    out.append("")

    # Load, per phase.
    phases = {}
    for name in ("before", "during", "after"):
        path = os.path.join(work, f"wrk-{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                phases[name] = json.load(f)
    out.append("| phase | seconds | requests | req/s | p50 ms | p99 ms | max ms | 2xx/3xx | 409 | failed |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    total_failed = 0
    accepted = 0
    details = []
    for name, p in phases.items():
        statuses = {int(k): v for k, v in p["statuses"].items()}
        good = sum(v for k, v in statuses.items() if 200 <= k < 400)
        expected = sum(v for k, v in statuses.items() if k in EXPECTED_4XX)
        bad_status = {k: v for k, v in statuses.items() if not (200 <= k < 400) and k not in EXPECTED_4XX}
        socket = p["connect_errors"] + p["read_errors"] + p["write_errors"] + p["timeouts"]
        failed = sum(bad_status.values()) + socket
        total_failed += failed
        accepted += statuses.get(202, 0)
        seconds = p["duration_us"] / 1e6
        out.append(
            f"| {name} | {seconds:.0f} | {p['requests']} | {p['requests'] / seconds:.1f} | {ms(p['p50_us'])} | "
            f"{ms(p['p99_us'])} | {ms(p['max_us'])} | {good} | {expected} | {failed} |"
        )
        if failed:
            details.append(
                f"{name}: statuses {bad_status}, connect {p['connect_errors']}, read {p['read_errors']}, "
                f"write {p['write_errors']}, timeouts {p['timeouts']}"
            )
    stats = [l.split(",") for l in open(os.path.join(work, "haproxy-stats.csv"))] if os.path.exists(
        os.path.join(work, "haproxy-stats.csv")) else []
    backend = next((r for r in stats if len(r) > 16 and r[0] == "replicas" and r[1] == "BACKEND"), None)
    out.append("")
    if backend:
        out.append(
            f"HAProxy, whole run: {backend[15] or 0} connection retries, {backend[16] or 0} redispatches, "
            f"{backend[13] or 0} connection errors, {backend[14] or 0} response errors."
        )
        out.append("")
    out.append(
        "Latencies are wrk's, through HAProxy, over every request of the phase (the mix above); "
        "`failed` counts any other status and every connection error or timeout (10 s)."
    )
    out.append("")

    # Restarts.
    restarts = rows(work, "restarts.tsv")[1:]
    if restarts:
        out.append("| restart | replica (pid) | out of HAProxy after | process exited after | exit status | back in HAProxy after |")
        out.append("|---|---|---|---|---|---|")
        for n, (replica, pid, signalled, down, exited, status, back) in enumerate(restarts, 1):
            s = float(signalled)
            down_after = "never" if down == "none" else f"{float(down) - s:.1f} s"
            out.append(
                f"| {n} (at {s - a.started:.0f} s) | {replica} ({pid}) | {down_after} | {float(exited) - s:.1f} s | "
                f"{status} | {float(back) - s:.1f} s |"
            )
        out.append("")
        out.append("Times are from the SIGTERM; HAProxy's view was polled every 100 ms.")
        out.append("")

    # Tasks.
    tasks = [t for t in rows(work, "tasks.tsv") if len(t) >= 4 and t[1] == "provision.apply"]
    completed = sum(1 for t in tasks if t[2] == "completed")
    reclaimed = [t for t in tasks if int(t[3]) > 1]
    unfinished = [t for t in tasks if t[2] != "completed"]
    repeated_steps = rows(work, "steps-repeated.tsv")
    out.append("| applies accepted (202) | tasks stored | completed | claimed more than once | steps started more than once |")
    out.append("|---|---|---|---|---|")
    out.append(f"| {accepted} | {len(tasks)} | {completed} | {len(reclaimed)} | {len(repeated_steps)} |")
    out.append("")

    # The drift reconciler's lease.
    holders = {h: inc for h, inc in rows(work, "holders.tsv")}
    incarnations = {f"{r[0]}.{r[1]}": r[2] for r in rows(work, "incarnations.tsv")[1:]}

    def who(holder):
        inc = holders.get(holder)
        return f"{inc.split('.')[0]} (pid {incarnations.get(inc, '?')})" if inc else f"unknown holder {holder[:8]}"

    samples = []
    for row in rows(work, "lease.tsv"):
        t = float(row[0])
        holder, expires = (row[1].split(" ") + [None])[:2] if len(row) > 1 and row[1] else (None, None)
        samples.append((t, holder, float(expires) / 1000 if expires else None))
    changes = []
    last = object()
    for t, holder, _ in samples:
        if holder != last:
            changes.append((t, holder))
            last = holder
    lines = [f"{t - a.started:.1f} s: {who(h) if h else 'nobody'}" for t, h in changes]
    out.append("Drift reconciler's lease (`leases`, polled every 0.5 s): " + "; ".join(lines) + ".")
    out.append("")

    # Memory.
    rss = {}
    for t, replica, pid, kb in rows(work, "rss.tsv"):
        rss.setdefault((replica, pid), []).append((float(t), int(kb)))
    out.append(f"| replica (pid) | sampled for | samples (every {a.sample_secs} s) | first MiB | max MiB | last MiB | 2nd-minute median MiB | last-minute median MiB |")
    out.append("|---|---|---|---|---|---|---|---|")
    leak_checked = []
    for (replica, pid), series in sorted(rss.items(), key=lambda kv: (kv[1][0][0], kv[0][0])):
        t0 = series[0][0]
        life = series[-1][0] - t0
        second = [kb for t, kb in series if 60 <= t - t0 < 120]
        final = [kb for t, kb in series if t >= series[-1][0] - 60]
        m2 = statistics.median(second) if second else None
        mlast = statistics.median(final) if final else None
        out.append(
            f"| {replica} ({pid}) | {life:.0f} s | {len(series)} | {mib(series[0][1])} | {mib(max(kb for _, kb in series))} | "
            f"{mib(series[-1][1])} | {mib(m2) if m2 else '—'} | {mib(mlast) if mlast and life >= 120 else '—'} |"
        )
        if life >= LEAK_MIN_LIFE_S and m2:
            leak_checked.append((replica, pid, m2, mlast))
    out.append("")

    # Targets.
    out.append("Targets:")
    out.append("")
    target(total_failed == 0, f"no failed request: {total_failed}" + (f" ({'; '.join(details)})" if details else ""))
    target(len(tasks) >= accepted, f"every accepted apply is a stored task: {accepted} accepted, {len(tasks)} stored")
    target(not unfinished, f"every task completed: {completed} of {len(tasks)}"
           + (f" (not: {[(t[0][:8], t[2], t[4] if len(t) > 4 else '') for t in unfinished[:5]]})" if unfinished else ""))
    target(not reclaimed, f"no task claimed more than once: {len(reclaimed)}")
    target(bool(restarts), f"replicas restarted under load: {len(restarts)}")
    for replica, pid, signalled, down, exited, status, back in restarts:
        in_order = down != "none" and float(down) <= float(exited)
        target(in_order and status == "0",
               f"{replica} (pid {pid}) left HAProxy before it stopped and exited with status 0: "
               f"{'left' if down != 'none' else 'never left'}"
               + (f" {float(down) - float(signalled):.1f} s after SIGTERM, " if down != "none" else ", ")
               + f"exited {float(exited) - float(signalled):.1f} s after, status {status}")
    # Each SIGTERM of the lease holder: another live replica has it well before it would expire.
    for replica, pid, signalled, down, exited, status, back in restarts:
        s = float(signalled)
        held_then = next((h for t, h, _ in reversed(samples) if t <= s), None)
        if held_then is None or holders.get(held_then, "").split(".")[0] != replica:
            continue
        moved = next((t for t, h, _ in samples if t > s and h and h != held_then), None)
        target(moved is not None and moved - s < LEASE_LENGTH_S,
               f"the lease left {replica} (pid {pid}) in less than its {LEASE_LENGTH_S:.0f} s length: "
               + (f"{moved - s:.1f} s after SIGTERM, to {who(next(h for t, h, _ in samples if t == moved))}" if moved else "never"))
    alive = {r: p for r, p in rows(work, "alive.tsv")}
    final_holder = samples[-1][1] if samples else None
    final_inc = holders.get(final_holder or "", "")
    live = bool(final_inc) and alive.get(final_inc.split(".")[0]) == incarnations.get(final_inc)
    unexpired = bool(samples) and samples[-1][2] is not None and samples[-1][2] > samples[-1][0]
    target(live and unexpired, f"at the end a live replica holds the lease: {who(final_holder) if final_holder else 'nobody'}")
    if a.short:
        out.append(f"- (the RSS check needs replicas that served {LEAK_MIN_LIFE_S:.0f} s; not applied to the short run)")
    else:
        target(bool(leak_checked), f"RSS checked on replicas that served at least {LEAK_MIN_LIFE_S:.0f} s: {len(leak_checked)}")
        for replica, pid, m2, mlast in leak_checked:
            limit = max(m2 * 1.10, m2 + 8 * 1024)
            target(mlast <= limit,
                   f"{replica} (pid {pid}) RSS flat: last-minute median {mib(mlast)} MiB against {mib(m2)} MiB in its "
                   f"second minute (limit: +10% or +8 MiB)")
    print("\n".join(out))
    if missed:
        print(f"\n{len(missed)} target(s) missed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
