#!/usr/bin/env python3
"""Turns bench.py's JSON lines (one per engine) into the Markdown table, checks the issue's
targets (ingestion ≥ 5,000 events/s; the organisation's measures in ≤ 1 s) and writes everything
as one JSON document.

    report.py RESULTS.jsonl OUT.json [--title TEXT] [--command TEXT]
"""
import argparse
import json

TARGET_EVENTS_PER_S = 5000
TARGET_ORG_MS = 1000


def fmt(v, digits=0):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def lat(x):
    x = x or {}
    return f"{fmt(x.get('p50'))} / {fmt(x.get('p99'))}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("out")
    p.add_argument("--title", default="")
    p.add_argument("--command", default="")
    a = p.parse_args()
    runs = [json.loads(line) for line in open(a.results) if line.strip().startswith("{")]
    lines = [a.title, ""] if a.title else []
    lines += ["| engine | events stored | ingestion (events/s) | per tenth of the batches (events/s) "
              "| batch of 1,000: p50 / p99 (ms) | server RSS peak (MiB) "
              "| DORA, organisation: p50 / p99 (ms) | team: p50 / p99 (ms) | service: p50 / p99 (ms) "
              "| answers as generated |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for r in runs:
        ing = r.get("ingestion") or {}
        d = (r.get("dora") or {}).get("latency_ms") or {}
        if "error" in r and not ing:
            lines.append(f"| {r['engine']} | failed: {r['error'][:300]} | | | | | | | | |")
            verdicts.append(f"{r['engine']}: failed")
            continue
        checked = (r.get("dora") or {}).get("checks", {}).get("compared") or []
        problems = r.get("problems") or []
        answers = (f"yes ({len(checked)} scopes, summary and every week)" if r.get("ok")
                   else f"NO: {'; '.join(problems[:3]) or r.get('error', '?')[:300]}")
        rss = ing.get("rss_mib") or {}
        lines.append(
            f"| {r['engine']} | {fmt(ing.get('accepted'))} ({fmt(ing.get('duplicates'))} resent, recorded once) "
            f"| **{fmt(ing.get('events_per_s'))}** ({fmt(ing.get('wall_s'), 1)} s) "
            f"| {', '.join(fmt(x) for x in ing.get('events_per_s_by_tenth') or [])} "
            f"| {lat(ing.get('batch_ms'))} | {fmt(rss.get('hwm'))} "
            f"| **{lat(d.get('organisation'))}** | {lat(d.get('team'))} | {lat(d.get('service'))} | {answers} |")
        org = (d.get("organisation") or {}).get("p99")
        eps = ing.get("events_per_s")
        verdicts.append(
            f"{r['engine']}: ingestion {fmt(eps)} events/s "
            f"({'meets' if eps and eps >= TARGET_EVENTS_PER_S else 'MISSES'} ≥ {TARGET_EVENTS_PER_S:,}); "
            f"the organisation's measures p99 {fmt(org)} ms "
            f"({'meets' if org is not None and org <= TARGET_ORG_MS else 'MISSES'} ≤ {TARGET_ORG_MS:,} ms)")
    if runs:
        r = runs[0]
        kinds = r.get("kinds") or {}
        stored = r.get("stored") or {}
        lines += ["", f"{fmt(r.get('events'))} events ({', '.join(f'{fmt(v)} {k}' for k, v in sorted(kinds.items()))}; "
                  f"{fmt(r.get('sent'))} sent with the retries) of {r.get('services')} services in {r.get('teams')} teams "
                  f"over {r.get('days')} days: {fmt(stored.get('production_deployments'))} production deployments, "
                  f"{fmt(stored.get('commits'))} commits, {fmt(stored.get('incidents'))} incidents. "
                  f"DORA's measures over {r.get('from')} to {r.get('to')} (90 days), summary and 13-14 ISO weeks."]
        for r in runs:
            d = r.get("dora") or {}
            cpu = {k: v.get("server_cpu_ms_per_request") for k, v in (d.get("latency_ms") or {}).items()}
            ing = r.get("ingestion") or {}
            lines.append(f"- {r['engine']}: server CPU {fmt(ing.get('server_cpu_s'), 1)} s for the ingestion; "
                         f"per DORA request {', '.join(f'{k} {fmt(v, 1)} ms' for k, v in cpu.items())}; "
                         f"waited {d.get('quiet_wait_s')} s for an idle machine before the reads.")
    lines += ["", *[f"- {v}" for v in verdicts]]
    if a.command:
        lines += ["", f"Command: `{a.command}`"]
    text = "\n".join(lines)
    print(text)
    with open(a.out, "w") as f:
        json.dump({"title": a.title, "command": a.command, "runs": runs, "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
