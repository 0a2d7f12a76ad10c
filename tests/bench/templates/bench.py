#!/usr/bin/env python3
"""One templates benchmark run: one system. Prints one JSON line.

    bench.py causeway  --bin PATH --template-dir DIR --workdir DIR --port N [--dry-runs 100 --runs 20]
    bench.py backstage --backstage-dir DIR --template-dir DIR --workdir DIR --port N [--dry-runs 100]

What is measured (milliseconds, wall time on the client, one request at a time over one
keep-alive connection, after a warm-up):
  dry_run   POST /api/scaffolder/v2/dry-run with TEMPLATE_DIR/dry-run.json (gen_template.py):
            from sending the request to having read the whole answer (the rendered files,
            base64, the log and the output). Both systems get the same bytes.
  full_run  Causeway only: POST /api/scaffolder/v2/tasks for the demo template `service` with a
            new service name each time, until GET /api/scaffolder/v2/tasks/{id} (polled every
            5 ms) says `completed`: fetch:template, catalog:write, publish:git to `local`,
            catalog:register and causeway:provision of `dev` to the GitOps directory.
Every server is started in its own session and stopped in `finally`.
"""
import argparse
import base64
import glob
import hashlib
import http.client
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DRY_RUN = "/api/scaffolder/v2/dry-run"

# The catalog benchmark's process and HTTP helpers: Server (own session, log file, pid file),
# Client (one keep-alive connection), proc_status (RSS), wait_quiet (until the machine is idle).
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
_spec = importlib.util.spec_from_file_location("catalog_bench", os.path.join(HERE, "..", "catalog", "bench.py"))
cb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cb)


def percentiles(samples):
    """Nearest-rank percentiles of a list of milliseconds."""
    s = sorted(samples)

    def rank(p):
        return round(s[max(0, math.ceil(p / 100 * len(s)) - 1)], 2)

    return {"count": len(s), "p50_ms": rank(50), "p95_ms": rank(95), "p99_ms": rank(99),
            "min_ms": round(s[0], 2), "max_ms": round(s[-1], 2),
            "mean_ms": round(sum(s) / len(s), 2)}


def files_digest(answer):
    """What a dry run produced: each output file's path and the SHA-256 of its content."""
    return {e["path"]: hashlib.sha256(base64.b64decode(e["base64Content"])).hexdigest()
            for e in answer["directoryContents"]}


def measure_dry_run(client, body, count, warmup):
    headers = {"Content-Type": "application/json"}
    status, answer, _ = client.request("POST", DRY_RUN, body, headers=headers, timeout=300)
    if status != 200:
        raise RuntimeError(f"dry run -> {status}: {answer[:1000]!r}")
    out = {"files": files_digest(json.loads(answer)), "answer_bytes": len(answer)}
    for _ in range(warmup):
        client.request("POST", DRY_RUN, body, headers=headers, timeout=300)
    out["quiet_wait_s"] = cb.wait_quiet()
    samples = []
    for _ in range(count):
        t = time.perf_counter()
        status, answer, _ = client.request("POST", DRY_RUN, body, headers=headers, timeout=300)
        samples.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"dry run -> {status}: {answer[:1000]!r}")
    out.update(percentiles(samples))
    return out


# ---------------------------------------------------------------- Causeway

def full_run(client, name):
    """One run of the demo `service` template, until its task has completed (ms)."""
    values = {"name": name, "description": "Created by the templates benchmark.",
              "owner": "group:default/payments", "language": "rust"}
    t = time.perf_counter()
    status, answer, _ = client.request(
        "POST", "/api/scaffolder/v2/tasks",
        json.dumps({"templateRef": "template:default/service", "values": values}),
        headers={"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError(f"POST /tasks -> {status}: {answer[:1000]!r}")
    task_id = json.loads(answer)["id"]
    while True:
        task = client.json(f"/api/scaffolder/v2/tasks/{task_id}")
        if task["status"] == "completed":
            return (time.perf_counter() - t) * 1000, task_id
        if task["status"] in ("failed", "cancelled"):
            events = client.json(f"/api/scaffolder/v2/tasks/{task_id}/events")
            raise RuntimeError(f"run {name} {task['status']}: {json.dumps(events)[-1500:]}")
        time.sleep(0.005)


def run_causeway(a, body, res):
    work = a.workdir
    # Causeway refuses unknown CAUSEWAY_* variables and the caller's settings would make runs
    # differ: pass only these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUSEWAY_")}
    env.update(CAUSEWAY_DATABASE_URL=f"sqlite://{work}/causeway.db",
               CAUSEWAY_LISTEN=f"127.0.0.1:{a.port}",
               CAUSEWAY_GIT_DIR=f"{work}/git",
               CAUSEWAY_GITOPS_DIR=f"{work}/gitops",
               CAUSEWAY_LOG_FILTER="warn",
               CAUSEWAY_SHUTDOWN_DELAY_SECS="0")
    demo = os.path.join(ROOT, "server", "causeway", "demo")
    cb.cli(a.bin, env, "seed")
    cb.cli(a.bin, env, "catalog", "import", os.path.join(demo, "organisation"))
    cb.cli(a.bin, env, "catalog", "import", *sorted(glob.glob(os.path.join(demo, "templates", "*", "template.yaml"))))
    # Linus is a platform admin (also in payments): dry runs of a sent template are authoring,
    # which is the platform team's.
    token = cb.cli(a.bin, env, "token", "create", "--user", "user:default/linus", "--name", "bench")
    token = token.strip().splitlines()[-1].strip()

    server = cb.Server([a.bin, "serve"], env, work, os.path.join(work, "server.log"),
                       os.path.join(work, "server.pid"))
    try:
        client = cb.Client(a.port, {"Authorization": f"Bearer {token}"})
        wait_ready(server, client, "/readyz")
        res["dry_run"] = measure_dry_run(client, body, a.dry_runs, a.warmup)
        tag = uuid.uuid4().hex[:6]
        for i in range(a.run_warmup):
            full_run(client, f"warm-{tag}-{i}")
        res["quiet_wait_s"] = cb.wait_quiet()
        samples, names = [], []
        for i in range(a.runs):
            name = f"svc-{tag}-{i}"
            ms, _ = full_run(client, name)
            samples.append(ms)
            names.append(name)
        res["full_run"] = percentiles(samples)
        res["full_run"]["created"] = check_created(client, work, names)
        res["rss_mib"] = cb.proc_status(server.pid).get("VmHWM")
    finally:
        server.stop()


def check_created(client, work, names):
    """That each run left what it should: the repository, the catalog entry, the GitOps commit."""
    repos = sum(os.path.isdir(f"{work}/git/payments/{n}.git") for n in names)
    entities = sum(client.get(f"/api/catalog/entities/by-name/component/default/{n}")[0] == 200
                   for n in names)
    gitops = subprocess.run(["git", "--git-dir", f"{work}/gitops", "ls-tree", "-r", "--name-only", "HEAD"],
                               capture_output=True, text=True).stdout
    envs = sum(f"/{n}-dev/" in gitops for n in names)  # clusters/<cluster>/<name>-dev/…
    return {"runs": len(names), "repositories": repos, "components": entities, "gitops_environments": envs}


def wait_ready(server, client, path, limit=180):
    t0 = time.monotonic()
    while True:
        server.check()
        if time.monotonic() - t0 > limit:
            raise RuntimeError(f"not ready in {limit} s")
        try:
            if client.get(path, timeout=5)[0] == 200:
                return
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)


# ---------------------------------------------------------------- Backstage

def run_backstage(a, body, res):
    overlay = os.path.join(a.workdir, "app-config.bench.yaml")
    with open(overlay, "w") as f:
        f.write(f"backend:\n  baseUrl: http://127.0.0.1:{a.port}\n"
                f"  listen:\n    host: 127.0.0.1\n    port: {a.port}\n")
    env = dict(os.environ, LOG_LEVEL="warn", NODE_ENV="production")
    server = cb.Server(["node", "index.js", "--config", "app-config.yaml", "--config", overlay], env,
                       a.backstage_dir, os.path.join(a.workdir, "backend.log"),
                       os.path.join(a.workdir, "server.pid"))
    try:
        client = cb.Client(a.port)
        wait_ready(server, client, "/api/scaffolder/v2/actions")
        res["dry_run"] = measure_dry_run(client, body, a.dry_runs, a.warmup)
        res["rss_mib"] = cb.proc_status(server.pid).get("VmHWM")
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("system", choices=["causeway", "backstage"])
    ap.add_argument("--template-dir", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dry-runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--run-warmup", type=int, default=2)
    ap.add_argument("--bin")
    ap.add_argument("--backstage-dir")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    with open(os.path.join(a.template_dir, "dry-run.json"), "rb") as f:
        body = f.read()
    res = {"system": a.system, "workdir": a.workdir, "request_bytes": len(body),
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    try:
        (run_causeway if a.system == "causeway" else run_backstage)(a, body, res)
        res["ok"] = True
    except Exception as e:  # partial results are still reported
        res["ok"] = False
        res["error"] = f"{type(e).__name__}: {e}"
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
