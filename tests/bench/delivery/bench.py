#!/usr/bin/env python3
"""One delivery benchmark run: one engine, the events of gen_events.py. Prints one JSON line.

    bench.py --bin PATH --data DIR --workdir DIR --port N --engine sqlite|postgres
             [--db-url URL] [--senders 4] [--org 20] [--team 50] [--service 200]

Setup (timed, not a figure): `causeway seed`, the demo organisation and the generated catalog
(DIR/catalog.yaml: the teams and their components) imported, an API token for linus (a platform
admin, who may post for every service), the server started.

Measured:
  ingestion   every batch of DIR/batches.jsonl sent to `POST /api/events` in order by --senders
              connections at once (pipelines and adapters post at the same time), each waiting
              for its answer before sending its next batch: events stored per second, from the
              first request sent to the last answer; each batch's latency; the rate over each tenth
              of the batches (does it slow as the tables grow?); the answers' accepted and
              duplicate counts, checked against what was sent; the server's RSS every 0.5 s and
              its peak (VmHWM).
  dora        with every event stored and the machine idle again, `GET /api/delivery/dora` over
              the 90 days ending at the data's last day, sequentially on one connection: the
              organisation (neither service nor team) --org times, the teams in turn --team times,
              the services in turn --service times; p50 / p99 / max (ms) of each, and the server's
              CPU time per request.
  correct     the answers for the services, team and organisation that expect.json holds (its
              own implementation of the README's rules applied to the events it sent) compared
              field by field, summary and every ISO week.
The server runs in its own session and is stopped in `finally`.
"""
import argparse
import importlib.util
import json
import math
import os
import queue
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The catalog benchmark's Server (own session, log and pid file), Client (one keep-alive
# connection), proc_status, proc_cpu, cli and wait_quiet; the templates benchmark's wait_ready.
cb = _load("catalog_bench", os.path.join(HERE, "..", "catalog", "bench.py"))
tb = _load("templates_bench", os.path.join(HERE, "..", "templates", "bench.py"))

JSON = {"Content-Type": "application/json"}


def percentiles(samples):
    if not samples:
        return None
    s = sorted(samples)

    def rank(p):
        return round(s[max(0, math.ceil(p / 100 * len(s)) - 1)], 1)

    return {"p50": rank(50), "p99": rank(99), "max": round(s[-1], 1), "n": len(s)}


class Sampler(threading.Thread):
    """The server's VmRSS every `period` seconds."""

    def __init__(self, pid, period=0.5):
        super().__init__(daemon=True)
        self.pid, self.period, self.samples = pid, period, []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(self.period):
            rss = cb.proc_status(self.pid).get("VmRSS")
            if rss is not None:
                self.samples.append(rss)

    def stop(self):
        self.stopping.set()
        self.join()


def server_env(a, state):
    # Causeway refuses unknown CAUSEWAY_* variables and the caller's settings would make runs
    # differ: pass only these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUSEWAY_")}
    env.update(CAUSEWAY_DATABASE_URL=a.db_url or f"sqlite://{state}/causeway.db",
               CAUSEWAY_LISTEN=f"127.0.0.1:{a.port}",
               CAUSEWAY_GIT_DIR=f"{state}/git",
               CAUSEWAY_GITOPS_DIR=f"{state}/gitops",
               CAUSEWAY_LOG_FILTER="warn",
               CAUSEWAY_SHUTDOWN_DELAY_SECS="0")
    return env


# ---------------------------------------------------------------- ingestion

def ingest(a, token, exp, pid):
    path = os.path.join(a.data, "batches.jsonl")
    with open(path, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    work = queue.Queue()
    for n, body in enumerate(bodies):
        work.put((n, body))
    done = [None] * len(bodies)  # (finished at, latency ms, accepted, duplicates)
    errors = []

    def sender():
        c = cb.Client(a.port, {"Authorization": f"Bearer {token}", **JSON})
        while not errors:
            try:
                n, body = work.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            try:
                status, answer, _ = c.request("POST", "/api/events", body, timeout=300)
            except Exception as e:  # noqa: BLE001 - reported, then the run stops
                errors.append(f"batch {n}: {e}")
                return
            t1 = time.perf_counter()
            if status != 200:
                errors.append(f"batch {n}: {status} {answer[:500]!r}")
                return
            got = json.loads(answer)
            done[n] = (t1, (t1 - t0) * 1000, got["accepted"], got["duplicates"])

    sampler = Sampler(pid)
    sampler.start()
    cpu0 = cb.proc_cpu(pid)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(a.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = cb.proc_cpu(pid)
    sampler.stop()
    st = cb.proc_status(pid)
    if errors:
        raise RuntimeError("ingestion failed: " + "; ".join(errors[:3]))
    accepted = sum(d[2] for d in done)
    duplicates = sum(d[3] for d in done)
    # The rate over each tenth of the batches, in the order they were answered.
    finished = sorted((d[0], d[2]) for d in done)
    tenths, previous, k = [], t0, len(finished)
    for i in range(10):
        part = finished[i * k // 10:(i + 1) * k // 10]
        if part:
            tenths.append(round(sum(x[1] for x in part) / max(part[-1][0] - previous, 1e-9)))
            previous = part[-1][0]
    out = {
        "batches": len(bodies), "senders": a.senders, "wall_s": round(wall, 2),
        "accepted": accepted, "duplicates": duplicates,
        "events_per_s": round(accepted / wall),
        "batch_ms": percentiles([d[1] for d in done]),
        "events_per_s_by_tenth": tenths,
        "server_cpu_s": round(cpu1 - cpu0, 1),
        "rss_mib": {"start": sampler.samples[0] if sampler.samples else None,
                    "peak_sampled": max(sampler.samples, default=None), "end": st.get("VmRSS"),
                    "hwm": st.get("VmHWM")},
    }
    problems = []
    if accepted != exp["events"]:
        problems.append(f"accepted {accepted}, sent {exp['events']} distinct events")
    if duplicates != exp["retried"]:
        problems.append(f"duplicates {duplicates}, resent {exp['retried']}")
    out["problems"] = problems
    return out


# ---------------------------------------------------------------- DORA

def dora_path(exp, service=None, team=None):
    q = f"/api/delivery/dora?from={exp['from']}&to={exp['to']}"
    if service:
        q += f"&service={service}"
    if team:
        q += f"&team={team}"
    return q


def get(c, path):
    t0 = time.perf_counter()
    status, body, _ = c.request("GET", path, timeout=300)
    ms = (time.perf_counter() - t0) * 1000
    if status != 200:
        raise RuntimeError(f"GET {path} -> {status}: {body[:500]!r}")
    return ms, json.loads(body)


def latencies(c, paths, count, pid):
    for path in paths[:2]:  # warm-up
        get(c, path)
    cpu0 = cb.proc_cpu(pid)
    times = [get(c, paths[i % len(paths)])[0] for i in range(count)]
    cpu1 = cb.proc_cpu(pid)
    out = percentiles(times)
    out["server_cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / max(count, 1), 1)
    return out


def same(want, got, where, problems):
    """Field by field; rates and per-week frequencies as floats."""
    if isinstance(want, dict):
        for k, v in want.items():
            same(v, (got or {}).get(k), f"{where}.{k}", problems)
    elif isinstance(want, float) or isinstance(got, float):
        if want is None or got is None or abs(want - got) > 1e-9 * max(1.0, abs(want)):
            problems.append(f"{where}: expected {want}, answered {got}")
    elif want != got:
        problems.append(f"{where}: expected {want}, answered {got}")


def check(want, answer, where, problems):
    same(want["summary"], answer["summary"], f"{where}.summary", problems)
    weeks = {w["week"]: w["keys"] for w in answer["weeks"]}
    if [w["week"] for w in want["weeks"]] != list(weeks):
        problems.append(f"{where}.weeks: expected {[w['week'] for w in want['weeks']]}, answered {list(weeks)}")
    for w in want["weeks"]:
        same(w["keys"], weeks.get(w["week"]), f"{where}.{w['week']}", problems)


def dora(a, token, exp, pid):
    c = cb.Client(a.port, {"Authorization": f"Bearer {token}"})
    res = {"quiet_wait_s": cb.wait_quiet(120)}
    checks, problems = {}, []
    ms, answer = get(c, dora_path(exp))
    checks["organisation"] = {"first_ms": round(ms, 1), "services": len(answer["services"]),
                              "scope": answer["scope"], "deployments": answer["summary"]["deployments"]}
    check(exp["check"]["organisation"], answer, "organisation", problems)
    team = exp["check"]["team"]
    _, answer = get(c, dora_path(exp, team=team["name"]))
    check(team, answer, f"team {team['name']}", problems)
    for name, want in exp["check"]["services"].items():
        _, answer = get(c, dora_path(exp, service=name))
        check(want, answer, name, problems)
    checks["compared"] = ["organisation", f"team {team['name']}", *exp["check"]["services"]]
    res["checks"] = checks
    res["problems"] = problems
    res["latency_ms"] = {
        "organisation": latencies(c, [dora_path(exp)], a.org, pid),
        "team": latencies(c, [dora_path(exp, team=t) for t in exp["team_names"]], a.team, pid),
        "service": latencies(c, [dora_path(exp, service=s) for s in exp["service_names"]], a.service, pid),
    }
    return res


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--engine", default="sqlite")
    p.add_argument("--db-url")
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--org", type=int, default=20)
    p.add_argument("--team", type=int, default=50)
    p.add_argument("--service", type=int, default=200)
    a = p.parse_args()
    with open(os.path.join(a.data, "expect.json")) as f:
        exp = json.load(f)
    res = {"engine": a.engine, "events": exp["events"], "sent": exp["sent"], "services": exp["services"],
           "teams": exp["teams"], "days": exp["days"], "from": exp["from"], "to": exp["to"],
           "kinds": exp["kinds"], "stored": exp["stored"], "ok": False}
    state = os.path.join(a.workdir, "state")
    os.makedirs(state, exist_ok=True)
    env = server_env(a, state)
    server = None
    try:
        t0 = time.perf_counter()
        cb.cli(a.bin, env, "seed")
        cb.cli(a.bin, env, "catalog", "import", os.path.join(ROOT, "server", "causeway", "demo", "organisation"))
        cb.cli(a.bin, env, "catalog", "import", os.path.join(a.data, "catalog.yaml"))
        out = cb.cli(a.bin, env, "token", "create", "--user", "user:default/linus", "--name", "bench-delivery")
        token = out.strip().splitlines()[-1].strip()
        server = cb.Server([a.bin, "serve"], env, a.workdir, os.path.join(a.workdir, "server.log"),
                           os.path.join(a.workdir, "server.pid"))
        tb.wait_ready(server, cb.Client(a.port), "/readyz")
        res["setup_s"] = round(time.perf_counter() - t0, 1)
        print(f"[bench-delivery] ingesting {exp['sent']} events in {exp['batches']} batches", file=sys.stderr)
        res["ingestion"] = ingest(a, token, exp, server.pid)
        print(f"[bench-delivery] {res['ingestion']['events_per_s']} events/s; DORA's measures", file=sys.stderr)
        res["dora"] = dora(a, token, exp, server.pid)
        res["rss_hwm_end_mib"] = cb.proc_status(server.pid).get("VmHWM")
        res["problems"] = res["ingestion"]["problems"] + res["dora"]["problems"]
        res["ok"] = not res["problems"]
    except Exception as e:  # noqa: BLE001 - the runner prints every run, failed or not
        res["error"] = str(e)
    finally:
        if server:
            server.stop()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
