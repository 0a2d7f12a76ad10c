#!/usr/bin/env python3
"""One catalog benchmark run: one system, one engine, one catalog size. Prints one JSON line.

    bench.py causeway  --bin PATH --engine sqlite|postgres --db-url URL --n N --data DIR ...
    bench.py backstage --backstage-dir DIR --n N --data DIR ...

Both systems get the same generated catalog (gen_catalog.py, same seed) and the same HTTP
requests, defined once in QUERIES below, so that the numbers are comparable line by line.

What is measured:
  ready_s      spawn -> ready (Causeway: /readyz 200; Backstage: catalog API answers)
  visible_s    Causeway: first POST /locations -> totalItems shows every entity;
               Backstage: catalog API ready -> totalItems shows every entity (it ingests the
               locations from its configuration at start; it has no faster path)
  settled_s    same start -> every Group's ownerOf/hasMember relation is served
  latency      sequential keep-alive requests, after a warm-up: p50/p90/p99/mean (ms)
  page         Causeway only: GET /catalog (server-rendered HTML) with a session cookie
  rss          VmRSS / VmHWM (peak) of the server process, MiB; Causeway's peak is also taken
               at visibility (hwm_at_visible_mib), after the latency rows (hwm_after_queries_mib)
               and after the portal pages (hwm_after_page_mib), so that it can be put to a phase
Causeway only, after all of the above (writes.py; --refresh 0 / --restart 0 leave them out):
  register_small_ms, refresh_small_ms   a one-entity location registered, then refreshed 5 times
  refresh_part_ms      the last generated part (a copy) refreshed with one description changed
  first_*_after_write_ms  the first sorted page, full-text query and portal /catalog after one
  restart_ready_s      SIGTERM, then a new server on the same database: spawn -> /readyz 200,
                       with rss_at_restart_ready_mib and hwm_restart_mib (the start-up peak)
Every process started here is in its own session and is stopped in `finally`.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

from support import Client, Server, now, proc_cpu, proc_status, wait_ready
from writes import copy_part, refresh_rows, restart

BENCH_USER = "causeway-bench"


# The latency probe, built by `make bench-catalog` (run.sh passes its path).
PROBE = os.environ.get("BENCH_PROBE", "causeway-bench-probe")


def seq_latency(client, paths, count, warmup=20, budget_s=90.0):
    """`count` sequential requests cycling through `paths`, sent and timed by the compiled probe
    (tests/bench/catalog/probe) over one keep-alive connection with `client`'s headers; stops
    early (after at least 30) when the wall time exceeds `budget_s`. A Python client spends more
    per request than Causeway takes to answer, which would hide the difference between servers."""
    argv = [PROBE, "--port", str(client.port), "--count", str(count), "--warmup", str(warmup),
            "--budget-seconds", str(budget_s)]
    for name, value in client.headers.items():
        if name != "Accept":
            argv += ["--header", f"{name}: {value}"]
    done = subprocess.run(argv + list(paths), capture_output=True, text=True, timeout=budget_s + 600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"probe exited {done.returncode}")
    return json.loads(done.stdout)


def queries(exp):
    """The measured API requests, identical for both systems."""
    q = urllib.parse.quote
    comps, groups, terms = exp["sample_components"], exp["sample_groups"], exp["search_terms"]
    base = "/api/catalog"
    return {
        "by_name": [f"{base}/entities/by-name/component/default/{c}" for c in comps],
        "kind_component_50": [f"{base}/entities/by-query?filter=kind=component&limit=50"],
        "filter_3field_50": [
            f"{base}/entities/by-query?filter=kind=component,spec.type={t},spec.lifecycle={l}&limit=50"
            for t in ("service", "website", "library") for l in ("production", "experimental")],
        "owned_by_group_50": [
            f"{base}/entities/by-query?filter=relations.ownedBy={q('group:default/' + g)}&limit=50"
            for g in groups],
        "fulltext_50": [
            f"{base}/entities/by-query?filter=kind=component&fullTextFilterTerm={t}"
            "&fullTextFilterFields=metadata.name,metadata.title,metadata.description"
            "&orderField=metadata.name,asc&limit=50" for t in terms],
        "facets_5": [f"{base}/entity-facets?facet=kind&facet=spec.type&facet=spec.lifecycle"
                     "&facet=spec.owner&facet=metadata.tags"],
    }


def answers(client, qs):
    """What the first request of each query returns (totals, facet sizes), to check that both
    systems answer the same question."""
    out = {}
    for name, paths in qs.items():
        doc = client.json(paths[0])
        if "totalItems" in doc:
            out[name] = {"totalItems": doc["totalItems"], "items": len(doc["items"])}
        elif "facets" in doc:
            out[name] = {f: sum(v["count"] for v in vals) for f, vals in sorted(doc["facets"].items())}
        else:
            out[name] = {"name": doc.get("metadata", {}).get("name")}
    return out


def count(client, filt=None):
    path = "/api/catalog/entities/by-query?limit=1&fields=metadata.name"
    if filt:
        path += "&filter=" + urllib.parse.quote(filt, safe="=,")
    return client.json(path)["totalItems"]


def kind_counts(client, exp):
    return {k: count(client, f"kind={k}") for k in exp["kinds"]}


def group_relations(client):
    owner = member = 0
    for e in client.json("/api/catalog/entities?filter=kind=group&fields=relations", timeout=120):
        for r in e.get("relations", []):
            if r["type"] == "ownerOf":
                owner += 1
            elif r["type"] == "hasMember":
                member += 1
    return owner, member


def wait_settled(client, exp, t_start, timeout):
    """Until every Group serves all its ownerOf and hasMember relations."""
    want = (exp["group_ownerOf_total"], exp["group_hasMember_total"])
    while True:
        got = group_relations(client)
        if got[0] >= want[0] and got[1] >= want[1]:
            return now()
        if now() - t_start > timeout:
            raise RuntimeError(f"relations not settled after {timeout}s: {got} of {want}")
        time.sleep(0.2)


def machine_idle(window=1.0):
    """The fraction of the machine's CPU time that was idle over the next `window` seconds."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    idle0, total0 = sample()
    time.sleep(window)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_quiet(limit=30.0):
    """Waits until the machine is at least 90% idle for a second (at most `limit` seconds), so
    that latencies are not measured while a database still digests the import (PostgreSQL's
    autovacuum and analyze, SQLite's checkpoint). Returns the seconds waited."""
    started = now()
    while now() - started < limit and machine_idle() < 0.9:
        pass
    return round(now() - started, 1)


def measure_queries(client, exp, a, res, pid, health_path):
    res["quiet_wait_s"] = wait_quiet()
    qs = queries(exp)
    res["answers"] = answers(client, qs)
    res["latency"] = {name: seq_latency(client, paths, a.seq, budget_s=a.seq_budget)
                      for name, paths in qs.items()}
    # The HTTP floor of each server: an unauthenticated health check that touches no catalog.
    res["floor"] = seq_latency(client, [health_path], a.seq, budget_s=a.seq_budget)
    res["hwm_after_queries_mib"] = proc_status(pid).get("VmHWM")


# ---------------------------------------------------------------- Causeway

def run_causeway(a, exp, res):
    workdir = a.workdir
    # Causeway refuses unknown CAUSEWAY_* variables (the runner's CAUSEWAY_BIN among them), and
    # settings from the caller's environment would make runs differ: pass only these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUSEWAY_")}
    env.update(CAUSEWAY_DATABASE_URL=a.db_url,
               CAUSEWAY_LISTEN=f"127.0.0.1:{a.port}",
               CAUSEWAY_LOG_FORMAT="json",
               CAUSEWAY_LOG_FILTER="warn",
               # POST /locations bodies are small (the server reads the files), but a 10k-entity
               # file sent to POST /import for comparison is ~5 MiB, above the 2 MiB default
               CAUSEWAY_BODY_LIMIT_BYTES=str(64 * 1024 * 1024),
               # Registering locations is for platform admins; the benchmark user is one.
               CAUSEWAY_ADMIN_TEAMS=f"group:default/{BENCH_USER}-admins")
    # Identity for the API token and the portal session: one User entity, imported before the
    # server starts (the CLI writes to the same database), so the measured import is only the
    # generated catalog.
    user_file = os.path.join(workdir, "bench-user.yaml")
    with open(user_file, "w") as f:
        f.write("apiVersion: backstage.io/v1alpha1\nkind: Group\n"
                f"metadata:\n  name: {BENCH_USER}-admins\nspec:\n  type: team\n  children: []\n"
                "---\napiVersion: backstage.io/v1alpha1\nkind: User\n"
                f"metadata:\n  name: {BENCH_USER}\nspec:\n  memberOf: [{BENCH_USER}-admins]\n")
    cli(a.bin, env, "catalog", "import", user_file)
    out = cli(a.bin, env, "token", "create", "--user", f"user:default/{BENCH_USER}", "--name", "bench")
    token = out.strip().splitlines()[-1].strip()

    servers = []  # every server started here, stopped in `finally`

    def spawn(log="server.log"):
        servers.append(Server([a.bin, "serve"], env, workdir, os.path.join(workdir, log),
                              os.path.join(workdir, "server.pid")))
        return servers[-1]

    # The refresh rows edit one entity of the last part, so the import registers a copy of it.
    locations = list(exp.get("locations"))
    if a.refresh:
        locations[-1], part_entity = copy_part(locations[-1], workdir)

    t0 = now()
    server = spawn()
    res["pid"] = server.pid
    try:
        client = Client(a.port, {"Authorization": f"Bearer {token}"})
        res["ready_s"] = round(wait_ready(server, client, "/readyz", t0, 120) - t0, 3)
        res["rss_at_ready_mib"] = proc_status(server.pid).get("VmRSS")
        baseline = count(client)
        base_kinds = kind_counts(client, exp)

        # The import runs in another thread (POST /locations answers once its files are stored)
        # while this one polls the API, so "visible" is what a client observes, not the POST.
        posted = {}

        def post_all():
            c = Client(a.port, {"Authorization": f"Bearer {token}",
                                "Content-Type": "application/json"})
            try:
                for loc in locations:
                    t = now()
                    st, body, _ = c.request("POST", "/api/catalog/locations",
                                            json.dumps({"type": "file", "target": loc}), timeout=3600)
                    posted.setdefault("each_s", []).append(round(now() - t, 3))
                    if st != 201:
                        raise RuntimeError(f"POST /locations {loc} -> {st}: {body[:500]!r}")
                posted["done"] = now()
            except Exception as e:  # reported by the polling loop
                posted["error"] = str(e)

        want = baseline + exp["total_entities"]
        t_import = now()
        poster = threading.Thread(target=post_all, daemon=True)
        poster.start()
        poll = Client(a.port, {"Authorization": f"Bearer {token}"})
        while True:
            server.check()
            if "error" in posted:
                raise RuntimeError(posted["error"])
            if now() - t_import > a.timeout:
                raise RuntimeError(f"not all entities visible after {a.timeout}s")
            if poll.json("/api/catalog/entities/by-query?limit=0")["totalItems"] >= want:
                t_vis = now()
                # The peak so far belongs to ingestion; settling relations comes next.
                res["hwm_at_visible_mib"] = proc_status(server.pid).get("VmHWM")
                break
            time.sleep(0.005)
        res["visible_s"] = round(t_vis - t_import, 3)
        poster.join(a.timeout)
        res["post_s"] = round(posted["done"] - t_import, 3) if "done" in posted else None
        res["post_each_s"] = posted.get("each_s")
        res["settled_s"] = round(wait_settled(client, exp, t_import, a.timeout) - t_import, 3)
        res["cpu_ingest_s"] = proc_cpu(server.pid)
        res["total_items"] = count(client) - baseline
        seen = kind_counts(client, exp)
        res["kinds_ok"] = all(seen[k] - base_kinds[k] == v for k, v in exp["kinds"].items())
        st = proc_status(server.pid)
        res["rss_after_ingest_mib"] = st.get("VmRSS")
        res["hwm_after_ingest_mib"] = st.get("VmHWM")

        measure_queries(client, exp, a, res, server.pid, "/healthz")
        portal = portal_client(a)
        res["page"] = catalog_page(a, exp, portal)
        res["hwm_after_page_mib"] = proc_status(server.pid).get("VmHWM")
        if a.refresh:
            refresh_rows(a.port, token, portal, exp, workdir, locations[-1], part_entity,
                         f"group:default/{BENCH_USER}-admins", res)
        st = proc_status(server.pid)
        res["rss_end_mib"] = st.get("VmRSS")
        res["hwm_end_mib"] = st.get("VmHWM")
        res["cpu_total_s"] = proc_cpu(server.pid)
        if a.restart:
            restart(server, lambda: spawn("server-restart.log"), client, res)
    finally:
        res.setdefault("hwm_end_mib", proc_status(server.pid).get("VmHWM"))
        for s in servers:
            s.stop()


def cli(binary, env, *args):
    p = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"causeway {' '.join(args)} failed: {p.stderr.strip()[-1000:]}")
    return p.stdout


def portal_client(a):
    """A client signed in through the development sign-in (a session cookie, as a browser has)."""
    origin = f"http://127.0.0.1:{a.port}"
    c = Client(a.port, {"Accept": "text/html"})
    st, body, resp = c.request(
        "POST", "/auth/dev/sign-in", urllib.parse.urlencode({"user": f"user:default/{BENCH_USER}"}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
    cookie = None
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie" and v.startswith("causeway_session="):
            cookie = v.split(";", 1)[0]
    if not cookie:
        raise RuntimeError(f"dev sign-in gave no session cookie (status {st})")
    c.headers["Cookie"] = cookie
    return c


def catalog_page(a, exp, c):
    """Server-side render time of the portal's catalog page, through the signed-in `c`."""
    word = exp["search_terms"][0]
    pages = {
        "catalog": "/catalog",
        # a narrowed, searched view: facets, search and the table all computed
        "catalog_filtered": f"/catalog?q={word}&kind=Component&lifecycle=production",
    }
    out = {}
    for name, path in pages.items():
        st, body = c.get(path)
        html = body.decode("utf-8", "replace")
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        # what the page is: does it list catalog entities (sample names present) and how many rows
        shown = sum(1 for n in exp["sample_components"][:200] if n in html)
        info = {"status": st, "bytes": len(body), "title": title.group(1).strip() if title else None,
                "table_rows": html.count("<tr") , "sample_names_shown": shown}
        if st == 200:
            info.update(seq_latency(c, [path], a.page_seq, warmup=5, budget_s=a.seq_budget))
        out[name] = info
    return out


# ---------------------------------------------------------------- Backstage

def run_backstage(a, exp, res):
    workdir = a.workdir
    overlay = os.path.join(workdir, "app-config.bench.yaml")
    dbconf = "    client: better-sqlite3\n    connection: ':memory:'\n"
    with open(overlay, "w") as f:
        f.write(
            "backend:\n"
            f"  baseUrl: http://127.0.0.1:{a.port}\n"
            f"  listen:\n    host: 127.0.0.1\n    port: {a.port}\n"
            "  database:\n" + dbconf +
            "catalog:\n" +
            (f"  processingInterval: {{ seconds: {a.processing_interval} }}\n"
             if a.processing_interval else "") +
            "  locations:\n" +
            "".join(f"    - type: file\n      target: {json.dumps(loc)}\n" for loc in exp["locations"]))
    env = dict(os.environ, LOG_LEVEL="warn", NODE_ENV="production")
    t0 = now()
    server = Server(["node", "index.js", "--config", "app-config.yaml", "--config", overlay], env,
                    a.backstage_dir, os.path.join(workdir, "backend.log"),
                    os.path.join(workdir, "server.pid"))
    res["pid"] = server.pid
    try:
        client = Client(a.port)
        while True:
            server.check()
            if now() - t0 > 180:
                raise RuntimeError("Backstage did not start in 180 s")
            try:
                if client.get("/api/catalog/entities/by-query?limit=1", timeout=10)[0] == 200:
                    break
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            time.sleep(0.01)
        t_cat = now()
        res["ready_s"] = round(t_cat - t0, 3)
        res["rss_at_ready_mib"] = proc_status(server.pid).get("VmRSS")
        # N entities plus one generated Location entity per configured location
        want = exp["total_entities"] + exp.get("extra_entities", 1)
        while True:
            server.check()
            if now() - t_cat > a.timeout:
                raise RuntimeError(f"not all entities visible after {a.timeout}s")
            tq = now()
            total = count(client)
            tq = now() - tq
            if total >= want:
                t_vis = now()
                break
            # keep the polling load on the backend small (the count gets slow as N grows)
            time.sleep(min(5.0, max(0.25, 20 * tq)))
        res["visible_s"] = round(t_vis - t_cat, 3)
        res["settled_s"] = round(wait_settled(client, exp, t_cat, a.timeout) - t_cat, 3)
        res["cpu_ingest_s"] = proc_cpu(server.pid)
        res["total_items"] = count(client)
        seen = kind_counts(client, exp)
        res["kinds_ok"] = seen == exp["kinds"]
        st = proc_status(server.pid)
        res["rss_after_ingest_mib"] = st.get("VmRSS")
        res["hwm_after_ingest_mib"] = st.get("VmHWM")
        measure_queries(client, exp, a, res, server.pid, "/.backstage/health/v1/liveness")
        st = proc_status(server.pid)
        res["rss_end_mib"] = st.get("VmRSS")
        res["hwm_end_mib"] = st.get("VmHWM")
        res["cpu_total_s"] = proc_cpu(server.pid)
    finally:
        res.setdefault("hwm_end_mib", proc_status(server.pid).get("VmHWM"))
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("system", choices=["causeway", "backstage"])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seq", type=int, default=300)
    ap.add_argument("--page-seq", type=int, default=100)
    ap.add_argument("--seq-budget", type=float, default=90.0)
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--bin")
    ap.add_argument("--engine", choices=["sqlite", "postgres"])
    ap.add_argument("--db-url")
    ap.add_argument("--backstage-dir")
    ap.add_argument("--processing-interval", type=int)
    # Causeway only: the refresh rows and the restart on the same database (1 = on).
    ap.add_argument("--refresh", type=int, default=1)
    ap.add_argument("--restart", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    exp = json.load(open(a.expect))
    res = {"system": a.system, "engine": a.engine if a.system == "causeway" else "sqlite-memory",
           "n": a.n, "seq": a.seq, "workdir": a.workdir,
           # other work on the machine shows up in the tail latencies; keep it on record
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    try:
        (run_causeway if a.system == "causeway" else run_backstage)(a, exp, res)
        res["ok"] = True
    except Exception as e:  # partial results are still reported
        res["ok"] = False
        res["error"] = f"{type(e).__name__}: {e}"
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
