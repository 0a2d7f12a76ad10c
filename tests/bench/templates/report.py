#!/usr/bin/env python3
"""Turns bench.py's JSON lines into the Markdown table (Causeway and Backstage side by side, with
Backstage ÷ Causeway), checks the issue's targets and writes everything as one JSON document.

    report.py RESULTS.jsonl OUT.json [--title TEXT]
"""
import json
import sys

PCTS = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def get(r, *path):
    for p in path:
        if not isinstance(r, dict):
            return None
        r = r.get(p)
    return r


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"
    return str(v)


def ratio(bs, cw):
    return bs / cw if bs is not None and cw else None


def fmt_ratio(x):
    return "—" if x is None else f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def main():
    src, out_path = sys.argv[1], sys.argv[2]
    title = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--title" else ""
    runs = [json.loads(line) for line in open(src) if line.strip().startswith("{")]
    cw = next((r for r in runs if r["system"] == "causeway"), {})
    bs = next((r for r in runs if r["system"] == "backstage"), {})
    n_dry = get(cw, "dry_run", "count") or get(bs, "dry_run", "count")
    n_full = get(cw, "full_run", "count")

    lines = [title, ""] if title else []
    lines += ["| measure | Causeway | Backstage | Backstage ÷ Causeway |", "|---|---|---|---|"]
    for key, label in PCTS:
        c, b = get(cw, "dry_run", key), get(bs, "dry_run", key)
        lines.append(f"| dry run, `POST /api/scaffolder/v2/dry-run`, {label} (ms) | {fmt(c)} | {fmt(b)} "
                     f"| {fmt_ratio(ratio(b, c))} |")
    for key, label in PCTS:
        lines.append(f"| full run of `service`, `POST …/tasks` until `completed`, {label} (ms) "
                     f"| {fmt(get(cw, 'full_run', key))} | — | — |")
    c, b = cw.get("rss_mib"), bs.get("rss_mib")
    lines.append(f"| server peak RSS, VmHWM (MiB) | {fmt(c)} | {fmt(b)} | {fmt_ratio(ratio(b, c))} |")
    lines += ["", f"{n_dry} dry runs per system and {n_full} full runs, one at a time."]

    checks = []

    def check(name, measured, ok):
        checks.append({"target": name, "measured": measured, "met": None if measured is None else ok})

    v = get(cw, "dry_run", "p50_ms")
    check("Causeway dry run of the 200-file skeleton: p50 ≤ 50 ms", v, v is not None and v <= 50)
    v = get(cw, "full_run", "p50_ms")
    check("Causeway full run: p50 ≤ 1 s", v, v is not None and v <= 1000)
    v = ratio(get(bs, "dry_run", "p50_ms"), get(cw, "dry_run", "p50_ms"))
    check("Causeway ≥ 10× faster than Backstage (dry run p50)", v and round(v, 1), v is not None and v >= 10)
    lines += ["", "Targets:", ""]
    for t in checks:
        state = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"- {t['target']}: {fmt(t['measured'])} — {state}")

    # Both systems rendered the same files?
    cf, bf = get(cw, "dry_run", "files"), get(bs, "dry_run", "files")
    if cf and bf:
        differ = sorted(p for p in set(cf) | set(bf) if cf.get(p) != bf.get(p))
        if differ:
            lines += ["", f"The dry runs' files differ in {len(differ)} of {len(set(cf) | set(bf))} paths, "
                      f"e.g. {', '.join(differ[:5])}."]
        else:
            lines += ["", f"Both dry runs produced the same {len(cf)} files, byte for byte."]
    created = get(cw, "full_run", "created")
    if created:
        lines += ["", f"Full runs checked afterwards: {created['repositories']} of {created['runs']} "
                  f"repositories, {created['components']} components in the catalog, "
                  f"{created['gitops_environments']} environments in the GitOps repository."]
    loads = ", ".join(f"{r['system']} {r['loadavg_start'][0]}" for r in runs if r.get("loadavg_start"))
    if loads:
        lines += ["", f"1-minute load average at the start of each run (2 = both cores busy): {loads}."]
    errors = [f"{r['system']}: {r['error']}" for r in runs if not r.get("ok")]
    if errors:
        lines += ["", "Failed runs:"] + [f"- {x}" for x in errors]
    text = "\n".join(lines)
    print(text)
    with open(out_path, "w") as f:
        json.dump({"title": title, "runs": runs, "targets": checks, "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
