#!/usr/bin/env python3
"""Turns bench.py's JSON lines into one Markdown table (Causeway on SQLite and PostgreSQL, and
Backstage, side by side per catalog size, with Backstage ÷ Causeway ratios), checks the targets,
and writes everything as one JSON document.

    report.py RESULTS.jsonl OUT.json [--title TEXT]
    report.py target/bench/catalog-<time>.json OUT.json    # an earlier run's document again
"""
import json
import sys

LABELS = [
    ("by_name", "by-name"),
    ("kind_component_50", "by-query kind=component, limit 50"),
    ("filter_3field_50", "by-query kind+spec.type+spec.lifecycle, limit 50"),
    ("owned_by_group_50", "by-query relations.ownedBy=group, limit 50"),
    ("fulltext_50", "by-query full text name/title/description, limit 50"),
    ("facets_5", "entity-facets kind, type, lifecycle, owner, tags"),
]
BY_QUERY = ["kind_component_50", "filter_3field_50", "owned_by_group_50", "fulltext_50"]
ENGINES = [("sqlite", "Causeway SQLite"), ("postgres", "Causeway PostgreSQL")]


def size_label(n):
    """1,000,000 as "1M" and 100,000 as "100k"."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k"


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
        if v >= 100:
            return f"{v:.0f}"
        if v >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return str(v)


def ratio(bs, cw):
    if bs is None or cw is None or cw <= 0:
        return None
    return bs / cw


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def metrics():
    rows = [
        ("all N visible (s)", lambda r: get(r, "visible_s")),
        ("all relations served (s)", lambda r: get(r, "settled_s")),
        ("server CPU until settled (s)", lambda r: get(r, "cpu_ingest_s")),
    ]
    # Causeway's client sends its API token on every request, health checks included, and the
    # middleware checks it (a database write) before routing: this row is that floor.
    rows.append(("HTTP floor: health check p50 (ms; Causeway's includes the token check)",
                 lambda r: get(r, "floor", "p50_ms")))
    for key, label in LABELS:
        rows.append((f"{label}: p50 (ms)", lambda r, k=key: get(r, "latency", k, "p50_ms")))
        rows.append((f"{label}: p99 (ms)", lambda r, k=key: get(r, "latency", k, "p99_ms")))
    for key, label in (("catalog", "portal /catalog page"),
                       ("catalog_filtered", "portal /catalog?q=…&kind=…&lifecycle=…")):
        rows.append((f"{label}: p50 (ms)", lambda r, k=key: get(r, "page", k, "p50_ms")))
        rows.append((f"{label}: p99 (ms)", lambda r, k=key: get(r, "page", k, "p99_ms")))
    # Causeway only (writes.py): writes to the loaded catalog and the first reads after one.
    rows += [
        ("register a one-entity location (ms)", lambda r: get(r, "register_small_ms")),
        ("refresh a one-entity location: p50 of 5 (ms)", lambda r: get(r, "refresh_small_ms", "p50")),
        ("refresh a one-entity location: max of 5 (ms)", lambda r: get(r, "refresh_small_ms", "max")),
        ("refresh the last generated part, one entity changed (ms)",
         lambda r: get(r, "refresh_part_ms")),
        ("first by-query kind=component by name, limit 50, after a write (ms)",
         lambda r: get(r, "first_sorted_after_write_ms")),
        ("first by-query full text after a write (ms)", lambda r: get(r, "first_fulltext_after_write_ms")),
        ("first portal /catalog after a write (ms)", lambda r: get(r, "first_catalog_after_write_ms")),
        ("start-up on the loaded database: spawn → /readyz 200 (s)", lambda r: get(r, "restart_ready_s")),
        ("RSS at start-up ready (MiB)", lambda r: get(r, "rss_at_restart_ready_mib")),
        ("start-up peak RSS, VmHWM at ready (MiB)", lambda r: get(r, "hwm_restart_mib")),
    ]
    rows += [
        ("RSS after ingest (MiB)", lambda r: get(r, "rss_after_ingest_mib")),
        # The peak so far, read at the end of each phase, so that the peak can be put to one.
        ("peak RSS when all N are visible (MiB)", lambda r: get(r, "hwm_at_visible_mib")),
        ("peak RSS when relations are served (MiB)", lambda r: get(r, "hwm_after_ingest_mib")),
        ("peak RSS after the latency rows (MiB)", lambda r: get(r, "hwm_after_queries_mib")),
        ("peak RSS after the portal pages (MiB)", lambda r: get(r, "hwm_after_page_mib")),
        ("peak RSS, VmHWM (MiB)", lambda r: get(r, "hwm_end_mib")),
    ]
    return rows


def pick(runs, n, system, engine=None):
    for r in runs:
        if r["n"] == n and r["system"] == system and (engine is None or r.get("engine") == engine):
            return r
    return None


def million_targets(r):
    """Issue 17's targets at 1,000,000 entities: (name, unit, measured, limit)."""
    return [
        ("all visible", "s", get(r, "visible_s"), 120),
        ("peak RSS", "MiB", get(r, "hwm_end_mib"), 1500),
        ("by-query kind=component p99", "ms", get(r, "latency", "kind_component_50", "p99_ms"), 10),
        ("by-query full text p99", "ms", get(r, "latency", "fulltext_50", "p99_ms"), 10),
        ("entity-facets p99", "ms", get(r, "latency", "facets_5", "p99_ms"), 20),
        ("portal /catalog p99", "ms", get(r, "page", "catalog", "p99_ms"), 30),
        ("portal /catalog?q=…&kind=…&lifecycle=… p99", "ms",
         get(r, "page", "catalog_filtered", "p99_ms"), 50),
        ("start-up", "s", get(r, "restart_ready_s"), 30),
    ]


def targets(runs):
    """The issue's targets, each with the measured value and met / not met."""
    out = []

    def add(name, value, limit, ok):
        out.append({"target": name, "measured": value, "limit": limit,
                    "met": None if value is None else ok})

    for engine, label in ENGINES:
        for n, limit in ((10000, 2.0), (100000, 15.0)):
            r = pick(runs, n, "causeway", engine)
            if r:
                v = r.get("visible_s")
                add(f"{label}: {n:,} visible ≤ {limit:g} s", v, limit, v is not None and v <= limit)
        for n, limit in ((10000, 5.0), (100000, 20.0)):
            r = pick(runs, n, "causeway", engine)
            if r:
                worst = max((get(r, "latency", k, "p99_ms") or float("inf")) for k in BY_QUERY) \
                    if r.get("latency") else None
                add(f"{label}: by-query p99 ≤ {limit:g} ms at {n:,} (worst of 4)", worst, limit,
                    worst is not None and worst <= limit)
        r = pick(runs, 100000, "causeway", engine)
        if r:
            v = get(r, "latency", "facets_5", "p99_ms")
            add(f"{label}: facets p99 ≤ 10 ms at 100,000", v, 10.0, v is not None and v <= 10.0)
            v = r.get("hwm_end_mib")
            add(f"{label}: peak RSS ≤ 300 MiB at 100,000", v, 300, v is not None and v <= 300)
            # issue 17's targets at this size
            for name, value, limit in (
                    ("full text p99", get(r, "latency", "fulltext_50", "p99_ms"), 1.0),
                    ("portal search page p99", get(r, "page", "catalog_filtered", "p99_ms"), 10.0)):
                add(f"{label}: {name} ≤ {limit:g} ms at 100,000", value, limit,
                    value is not None and value <= limit)
        r = pick(runs, 1_000_000, "causeway", engine)
        if r:
            for name, unit, value, limit in million_targets(r):
                add(f"{label}: {name} ≤ {limit:,g} {unit} at 1,000,000", value, limit,
                    value is not None and value <= limit)
        bs, cw = pick(runs, 10000, "backstage"), pick(runs, 10000, "causeway", engine)
        if bs and cw and bs.get("latency") and cw.get("latency"):
            worst = None
            for k, _ in LABELS:
                for p in ("p50_ms", "p99_ms"):
                    x = ratio(get(bs, "latency", k, p), get(cw, "latency", k, p))
                    if x is not None and (worst is None or x < worst[0]):
                        worst = (x, k, p)
            if worst:
                add(f"{label}: every query ≥ 10× faster than Backstage at 10,000 "
                    f"(lowest: {worst[1]} {worst[2][:3]})", round(worst[0], 1), 10, worst[0] >= 10)
    return out


def agreement(runs):
    """Whether the systems returned the same totals for the same by-query requests."""
    notes = []
    for n in sorted({r["n"] for r in runs}):
        same_n = [r for r in runs if r["n"] == n and r.get("answers")]
        for k in BY_QUERY:
            vals = {f"{r['system']}/{r['engine']}": get(r, "answers", k, "totalItems") for r in same_n}
            if len(set(vals.values())) > 1:
                notes.append(f"N={n:,} {k}: totals differ {vals}")
    return notes


def read_runs(src):
    """The runs of bench.py's JSON lines, or of a JSON document this script wrote before (whose
    fields may predate today's rows: those print as "—")."""
    text = open(src).read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and "runs" in doc:
        return doc["runs"]
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def main():
    src, out_path = sys.argv[1], sys.argv[2]
    title = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--title" else ""
    runs = read_runs(src)
    sizes = sorted({r["n"] for r in runs})
    cols = []  # (header, function of metric -> cell)
    for n in sizes:
        bs = pick(runs, n, "backstage")
        for engine, label in ENGINES:
            r = pick(runs, n, "causeway", engine)
            if r:
                cols.append((f"{size_label(n)} {label}", lambda f, r=r: fmt(f(r))))
        if bs:
            cols.append((f"{size_label(n)} Backstage", lambda f, r=bs: fmt(f(r))))
            cws = [pick(runs, n, "causeway", e) for e, _ in ENGINES]
            cws = [c for c in cws if c]
            if cws:
                cols.append((f"{size_label(n)} Backstage ÷ Causeway ({' / '.join(c['engine'] for c in cws)})",
                             lambda f, bs=bs, cws=cws: " / ".join(fmt_ratio(ratio(f(bs), f(c))) for c in cws)))
    lines = []
    if title:
        lines += [title, ""]
    lines.append("| metric | " + " | ".join(h for h, _ in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for name, f in metrics():
        lines.append(f"| {name} | " + " | ".join(cell(f) for _, cell in cols) + " |")
    checks = targets(runs)
    lines += ["", "Targets:", ""]
    for t in checks:
        state = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"- {t['target']}: {fmt(t['measured'])} — {state}")
    pages = [(r["n"], r["engine"], r["page"]) for r in runs if r.get("page")]
    if pages:
        n, engine, page = pages[-1]
        c = page.get("catalog", {})
        lines += ["", f"Catalog page at N={n:,} ({engine}): HTTP {c.get('status')}, "
                  f"{c.get('bytes')} bytes, title {c.get('title')!r}, {c.get('table_rows')} table rows, "
                  f"{c.get('sample_names_shown')} of 200 sampled component names on the page."]
    loads = ", ".join(f"{r['system']}/{r['engine']} {size_label(r['n'])} {r['loadavg_start'][0]}"
                      for r in runs if r.get("loadavg_start"))
    if loads:
        lines += ["", f"1-minute load average at the start of each run (2 = both cores busy): {loads}."]
    notes = agreement(runs)
    errors = [f"{r['system']}/{r['engine']} N={r['n']:,}: {r['error']}" for r in runs if not r.get("ok")]
    kinds = [f"{r['system']}/{r['engine']} N={r['n']:,}" for r in runs if r.get("ok") and not r.get("kinds_ok")]
    if notes:
        lines += ["", "Answers that differ between systems:"] + [f"- {x}" for x in notes]
    if kinds:
        lines += ["", "Per-kind counts differ from the generator's: " + ", ".join(kinds)]
    if errors:
        lines += ["", "Failed runs:"] + [f"- {x}" for x in errors]
    text = "\n".join(lines)
    print(text)
    with open(out_path, "w") as f:
        json.dump({"title": title, "runs": runs, "targets": checks, "differences": notes,
                   "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
