#!/usr/bin/env python3
"""Turns bench.py's JSON lines (one per fleet size) into the Markdown tables, checks the issue's
targets (the largest fleet upgraded in ≤ 60 s at the default pace; the server's peak memory not
growing with the fleet) and writes everything as one JSON document.

    report.py RESULTS.jsonl OUT.json [--title TEXT]
"""
import json
import sys

TARGET_S = 60
DEFAULT_PACE = 100
# "Flat": the largest fleet's peak RSS within this fraction of the smallest fleet's, same pace.
FLAT = 0.10


def fmt(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def pace_text(pace):
    return f"{pace} ms (default)" if pace == DEFAULT_PACE else f"{pace} ms"


def highest_peak(run):
    """The highest peak RSS of a pace's runs (the reported run's when it has no repeats)."""
    peaks = [x.get("rss_peak_mib") for x in run.get("repeats") or [] if x.get("ok")]
    return max([p for p in peaks if p is not None] or [(run.get("rss_mib") or {}).get("peak")])


def main():
    src, out_path = sys.argv[1], sys.argv[2]
    title = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--title" else ""
    sizes = sorted((json.loads(line) for line in open(src) if line.strip().startswith("{")),
                   key=lambda r: r["services"])
    runs = [r for s in sizes for r in s.get("runs", []) if not r.get("profile")]
    profiled = [r for s in sizes for r in s.get("runs", []) if r.get("profile")]

    lines = [title, ""] if title else []
    scratch = next((x["scratch"] for x in sizes if x.get("scratch")), None)
    if scratch:
        lines += [f"The server's scratch repositories (one per service upgraded) in {scratch['dir']}, "
                  f"on {scratch['fs']}.", ""]
    lines += ["| services | pace | `POST …/upgrades` → task `completed` (s): median, (all runs) | of which waiting for the pace (s) "
              "| per service, waits excluded: p50 / p95 (ms) | CPU: server / git / rest of the machine (s) "
              "| server RSS start / peak / end (MiB) | peak with git processes (MiB) "
              "| outcomes (open / conflict / current / failed) | reference git work (ms) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if not r.get("ok") and "wall_s" not in r:
            lines.append(f"| {r['services']} | {pace_text(r['pace_ms'])} | failed: {r.get('error', '?')} "
                         "| | | | | | | |")
            continue
        p = r.get("profile_steps") or {}
        svc = p.get("service_ms") or {}
        rss = r.get("rss_mib") or {}
        cpu = r.get("cpu_s") or {}
        o = r.get("outcomes") or {}
        outcomes = " / ".join(str(o.get(k, 0)) for k in ("open", "conflict", "current", "failed"))
        if not r.get("ok"):
            outcomes += f" — NOT as expected: {r.get('error')}"
        walls = sorted((x["wall_s"], x.get("shared")) for x in r.get("repeats") or [] if x.get("ok"))
        every = f" ({', '.join(fmt(w) + ('*' if s else '') for w, s in walls)})" if len(walls) > 1 else ""
        lines.append(
            f"| {r['services']} | {pace_text(r['pace_ms'])} | **{fmt(r.get('wall_s'))}**{every} "
            f"| {fmt(p.get('pace_total_s'))} | {fmt(svc.get('p50'), 0)} / {fmt(svc.get('p95'), 0)} "
            f"| {fmt(cpu.get('server'))} / {fmt(cpu.get('git'))} / {fmt(cpu.get('others'))} "
            f"| {fmt(rss.get('start'))} / **{fmt(rss.get('peak'))}** / {fmt(rss.get('end'))} "
            f"| {fmt(rss.get('peak_with_git'))} | {outcomes} "
            f"| {fmt(r.get('reference_ms'))} ({', '.join(fmt(x.get('reference_ms')) for x in r.get('repeats') or [])}) |")

    lines += ["", "Each pace is measured from the same state several times; the run with the median time is "
              "shown, among those that had the machine to themselves when there are any. * marks a run "
              "during which other work kept more than 15% of a core busy."]
    lines += ["", "| services | setup: seed, template registered, services created (s) | of which creating the services "
              "(s; per service, 4 runs at a time, ms) | team edits pushed (edited / conflicting) |",
              "|---|---|---|---|"]
    for s in sizes:
        st = s.get("setup") or {}
        ed = st.get("edits") or {}
        lines.append(f"| {s['services']} | {fmt(st.get('total_s'))} | {fmt(st.get('create_s'))}; "
                     f"{fmt(st.get('per_service_ms'), 0)} | {ed.get('edited', '—')} / {ed.get('conflicting', '—')} |")

    checks = []

    def check(name, measured, ok):
        checks.append({"target": name, "measured": measured, "met": None if measured is None else ok})

    largest = sizes[-1]["services"] if sizes else None
    smallest = sizes[0]["services"] if sizes else None
    for r in runs:
        if r["services"] == largest and r["pace_ms"] == DEFAULT_PACE:
            v = r.get("wall_s") if r.get("ok") else None
            check(f"{largest} services upgraded at the default pace in ≤ {TARGET_S} s", v,
                  v is not None and v <= TARGET_S)
    for pace in sorted({r["pace_ms"] for r in runs}, reverse=True):
        def peak(n):
            return next((highest_peak(r) for r in runs
                         if r["services"] == n and r["pace_ms"] == pace and r.get("ok")), None)
        small, large = peak(smallest), peak(largest)
        if smallest != largest and small and large:
            growth = (large - small) / small
            check(f"memory flat at pace {pace} ms: highest peak RSS with {largest} services within "
                  f"{FLAT:.0%} of {smallest} services' ({small} MiB)", f"{large} MiB ({growth:+.0%})",
                  growth <= FLAT)
    lines += ["", "Targets:", ""]
    for t in checks:
        state = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"- {t['target']}: {fmt(t['measured'])} — {state}")

    # Where the time goes.
    for r in runs:
        if r["services"] != largest or not r.get("profile_steps"):
            continue
        p = r["profile_steps"]
        svc = p.get("service_ms") or {}
        lines += ["", f"{largest} services at pace {r['pace_ms']} ms: {fmt(r.get('wall_s'))} s = the services' own "
                  f"work {fmt(p.get('service_total_s'))} s (mean {fmt(svc.get('mean'), 0)} ms, max "
                  f"{fmt(svc.get('max'), 0)} ms) + waits for the pace {fmt(p.get('pace_total_s'))} s ({p.get('paced_services', '—')} services waited) "
                  f"+ the runner between "
                  f"steps {fmt(p.get('gap_total_s'))} s + the task's wait for a worker {fmt(p.get('queued_ms'))} ms "
                  f"+ the client's polling; the server's task took {fmt(p.get('server_s'))} s. CPU: server "
                  f"{fmt((r.get('cpu_s') or {}).get('server'))} s, git processes {fmt((r.get('cpu_s') or {}).get('git'))} s."]
    for r in profiled:
        g = r.get("git")
        if not g:
            lines += ["", f"The profiled run failed: {r.get('error')}"]
            continue
        top = ", ".join(f"`{name}` {e['per_service']}× {fmt(e['wall_s'] * 1000 / r['services'], 1)} ms"
                        for name, e in list(g["by_command"].items())[:8])
        lines += ["", f"git, from trace2 in a separate run at pace 0 through a wrapper (its "
                  f"{fmt(r.get('wall_s'))} s include the wrapper's cost): {g['per_service']} git processes per "
                  f"service, and {fmt(g['nested_processes'] / r['services'])} more that those start (upload-pack, "
                  f"pack-objects, rev-list, maintenance), "
                  f"{fmt(g['wall_ms_per_service'])} ms of git wall time per service. Per service: {top}."]

    for r in runs:
        series = r.get("cpu_ms_per_service_by_tenth")
        if r["services"] == largest and series and r["pace_ms"] == min(x["pace_ms"] for x in runs):
            lines += ["", f"CPU per service (server + git, ms) over each tenth of the {largest} services at pace "
                      f"{r['pace_ms']} ms, in the order they were upgraded: "
                      + ", ".join(f"{t['server']} + {t['git']}" for t in series) + "."]

    # Memory against the fleet's size.
    for pace in sorted({r["pace_ms"] for r in runs}, reverse=True):
        points = [(r["services"], highest_peak(r), (r.get("rss_mib") or {}).get("start"))
                  for r in runs if r["pace_ms"] == pace and r.get("ok")]
        if len(points) > 1:
            (n0, p0, _), (n1, p1, _) = points[0], points[-1]
            slope = (p1 - p0) * 1024 / (n1 - n0)
            lines += ["", f"Memory at pace {pace} ms, the highest peak of the runs: " + ", ".join(
                f"{n} services {p} MiB (+{p - s0} MiB over the run's start)" for n, p, s0 in points)
                + f"; {slope:.0f} KiB more per service between {n0} and {n1}."]
            series = next(((r.get("rss_mib") or {}).get("by_tenth") for r in runs
                           if r["pace_ms"] == pace and r["services"] == n1), None)
            if series:
                lines[-1] += (f" The server's RSS over each tenth of the {n1}-service run (MiB): "
                              + ", ".join(str(x) for x in series) + ".")

    follower = [(r["services"], r["pace_ms"], r["follower_pass"]) for r in runs if r.get("follower_pass")]
    if follower:
        lines += ["", "The change-request follower, after each run: one pass over the changes just opened "
                  "(`POST …/fleet/refresh`, the pass `causeway serve` makes every minute while they stay open): "
                  + "; ".join(f"{n} services at pace {pace} ms: {f['changes']} changes in {fmt(f['s'])} s "
                              f"(server CPU {fmt(f['cpu_server_s'])} s, git {fmt(f['cpu_git_s'])} s)"
                              + ("" if f["status"] == 200 else f", answered {f['status']}")
                              for n, pace, f in follower) + "."]

    notes = []
    for r in runs:
        if r.get("follower_ticks"):
            notes.append(f"{r['services']} services at pace {r['pace_ms']} ms: the change-request follower's "
                         f"minute came {r['follower_ticks']}× during the run, and its pass over the changes "
                         f"opened so far is in the run's time.")
        slow = [x for x in r.get("repeats") or [] if not x.get("ok")]
        if slow:
            notes.append(f"{r['services']} services at pace {r['pace_ms']} ms: {len(slow)} of "
                         f"{len(r['repeats'])} runs failed: " + "; ".join(str(x.get("error")) for x in slow))
    if notes:
        lines += [""] + notes
    loads = ", ".join(f"{r['services']}@{r['pace_ms']} ms {r['load_start']}" for r in runs if r.get("load_start"))
    if loads:
        lines += ["", f"1-minute load average when each upgrade started (2 = both cores busy): {loads}."]
    errors = [f"{s['services']} services: {s['error']}" for s in sizes if s.get("error")]
    errors += [f"{r['services']} services at pace {r['pace_ms']} ms: {r['error']}"
               for r in runs + profiled if r.get("error")]
    if errors:
        lines += ["", "Failed:"] + [f"- {x}" for x in errors]
    text = "\n".join(lines)
    print(text)
    with open(out_path, "w") as f:
        json.dump({"title": title, "sizes": sizes, "targets": checks, "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
