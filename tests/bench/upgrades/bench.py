#!/usr/bin/env python3
"""One upgrades benchmark size: a fleet of SERVICES services of one template, set up once, then
upgraded to the template's version 2 once per pace. Prints one JSON line.

    bench.py --bin PATH --workdir DIR --port N --services 200 [--paces 100,0] [--profile]
             [--repeat 3] [--server-tmpdir DIR] [--db-url postgres://… --pg-bin DIR]

Setup, through the same doors a platform team and a developer use (timed, not part of the figures):
  - `causeway seed` and the demo organisation imported; API tokens for linus (a platform admin)
    and ada (payments);
  - the template (gen_template.py, version 1) registered from a file location as linus
    (`POST /api/catalog/locations`);
  - SERVICES services created by ada through `POST /api/scaffolder/v2/tasks`, at most four runs
    at a time (the server's task workers): fetch:template, catalog:write, publish:git to the
    embedded `local` host, catalog:register; no environments, so no cluster is involved;
  - the team's edits pushed to the services' repositories as a team would (a clone, a commit, a
    push): every third service a line of docs/runbook.md, which version 2 does not touch (the
    upgrade keeps it), and every twentieth (from the eleventh) the line of config/app.toml that
    version 2 also changes (a conflict);
  - version 2 written over the template's directory and its location refreshed as linus
    (`POST /api/catalog/refresh`), then `GET …/fleet` checked to name it newest.
The server is stopped and the state (database, repositories, template) kept aside.

Each measured run starts a server from that state with CAUSEWAY_UPGRADE_PACE_MS set to the pace
(the least time between the starts of two services; a service that takes longer adds no wait),
waits until the machine is idle, and measures what the platform team does and waits for:
  wall_s     from sending `POST …/upgrades` (linus, an empty selection: the whole fleet) until
             `GET /api/tasks/{id}` (polled every 0.25 s) says `completed`;
  rss        the server's VmRSS every 0.5 s during that time: start, peak, end (MiB), and the
             peak of the server with its git processes;
  outcomes   `GET …/fleet`'s upgrade counts, checked against the edits made (open, conflict; no
             current, no failed), and every service's repository read: the upgrade branch exists,
             carries version 2's change, keeps the team's edit, marks the conflict, leaves the
             default branch where it was;
  profile    per-service step time from the task's steps (the pace's waits excluded), the runner's gaps
             between steps, the CPU time of the server, of its git processes and of the rest of
             the machine, and the CPU per service over each tenth of the fleet;
  follower   after the run, one pass of the change-request follower over the changes just opened
             (`POST …/fleet/refresh`, what `causeway serve` does every minute), timed apart.
Each pace is measured --repeat times (3) from the same state and the run with the median time
stands for it (among the runs that had the machine to themselves, see SHARED, when there are
any); each run also times a fixed piece of git work just before it starts (reference()),
because the same work does not always take the same time here. The server makes its scratch
repositories in its TMPDIR (--server-tmpdir; /tmp when unset), whose file system is reported: it
matters (see the README).
With --profile, one more run at pace 0 goes through a `git` wrapper that turns on git's trace2
for every git process the server starts: how many git processes one service costs, and the wall
time of each git command. The wrapper's own cost makes that run slower; its time is not a figure.
Every server is started in its own session and stopped in `finally`.
"""
import argparse
import glob
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# The catalog benchmark's process and HTTP helpers: Server (own session, log file, pid file),
# Client (one keep-alive connection), proc_status (RSS), cli, wait_quiet (until the machine is
# idle); the templates benchmark's wait_ready; this benchmark's template generator.
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cb = _load("catalog_bench", os.path.join(HERE, "..", "catalog", "bench.py"))
tb = _load("templates_bench", os.path.join(HERE, "..", "templates", "bench.py"))
gen = _load("upgrades_gen", os.path.join(HERE, "gen_template.py"))

TEMPLATE_REF = f"template:default/{gen.TEMPLATE}"
FLEET = f"/api/scaffolder/v2/templates/default/template/{gen.TEMPLATE}/fleet"
UPGRADES = f"/api/scaffolder/v2/templates/default/template/{gen.TEMPLATE}/upgrades"
JSON = {"Content-Type": "application/json"}
# The server's task workers (task_workers' default): service creation keeps this many runs queued.
IN_FLIGHT = 4
# The change-request follower's period in `causeway serve` (follow_upgrade_changes).
FOLLOWER_PERIOD_S = 60


def service_name(i):
    return f"svc-{i:04d}"


def conflicting(i):
    return i % 20 == 10


def edited(i):
    return i % 3 == 0 and not conflicting(i)


def git(*args, cwd=None):
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {p.stderr.strip()[-500:]}")
    return p.stdout.strip()


# ---------------------------------------------------------------- processes

def cpu_times(pid):
    """The process's own CPU seconds and those of its children it has waited for (git's)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return {"self_s": (int(parts[11]) + int(parts[12])) / tick,
            "children_s": (int(parts[13]) + int(parts[14])) / tick}


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all cores, every process) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def descendants(pid):
    """The process ids below `pid` (git and what git starts)."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(rest[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_of(pid):
    """VmRSS in MiB, or None for a process that is gone (a git process may end while it is read)."""
    try:
        return cb.proc_status(pid).get("VmRSS")
    except (ProcessLookupError, OSError):
        return None


class Sampler(threading.Thread):
    """The server's VmRSS every `period` seconds, and that of the server with its descendants."""

    def __init__(self, pid, period=0.5):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples, self.tree = [], []
        self.max_children = 0
        self.stopping = threading.Event()

    def sample(self):
        rss = rss_of(self.pid)
        if rss is None:
            return
        kids = descendants(self.pid)
        self.max_children = max(self.max_children, len(kids))
        self.samples.append(rss)
        self.tree.append(rss + sum(rss_of(k) or 0 for k in kids))

    def run(self):
        while not self.stopping.wait(self.period):
            self.sample()

    def stop(self):
        self.stopping.set()
        self.join()
        self.sample()


# ---------------------------------------------------------------- the state kept between runs

class State:
    """The server's state directory (SQLite database, repositories, template) and, on PostgreSQL,
    its database; kept aside after setup and put back before each measured run, so that every
    run upgrades the same fleet from the same start."""

    def __init__(self, a):
        self.dir = os.path.join(a.workdir, "state")
        self.kept = os.path.join(a.workdir, "state.kept")
        self.db_url = a.db_url or f"sqlite://{self.dir}/causeway.db"
        self.pg = None
        if a.db_url:
            u = urllib.parse.urlparse(a.db_url)
            self.pg = {"bin": a.pg_bin, "host": u.hostname, "port": str(u.port),
                       "user": u.username, "db": u.path.lstrip("/")}

    def _pg(self, tool, *args):
        p = self.pg
        subprocess.run([os.path.join(p["bin"], tool), "-h", p["host"], "-p", p["port"], "-U", p["user"],
                        *args], check=True, capture_output=True)

    def keep(self):
        shutil.rmtree(self.kept, ignore_errors=True)
        shutil.copytree(self.dir, self.kept, symlinks=True)
        if self.pg:
            self._pg("dropdb", "--if-exists", self.pg["db"] + "_kept")
            self._pg("createdb", "-T", self.pg["db"], self.pg["db"] + "_kept")

    def restore(self):
        shutil.rmtree(self.dir)
        shutil.copytree(self.kept, self.dir, symlinks=True)
        if self.pg:
            self._pg("dropdb", self.pg["db"])
            self._pg("createdb", "-T", self.pg["db"] + "_kept", self.pg["db"])


def server_env(a, state, pace, path=None):
    # Causeway refuses unknown CAUSEWAY_* variables and the caller's settings would make runs
    # differ: pass only these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUSEWAY_")}
    env.update(CAUSEWAY_DATABASE_URL=state.db_url,
               CAUSEWAY_LISTEN=f"127.0.0.1:{a.port}",
               CAUSEWAY_GIT_DIR=f"{state.dir}/git",
               CAUSEWAY_GITOPS_DIR=f"{state.dir}/gitops",
               CAUSEWAY_LOG_FILTER="warn",
               CAUSEWAY_SHUTDOWN_DELAY_SECS="0",
               CAUSEWAY_UPGRADE_PACE_MS=str(pace))
    if path:
        env["PATH"] = path
    if a.server_tmpdir:
        env["TMPDIR"] = a.server_tmpdir
    return env


def scratch_dir(a):
    """Where the server makes its scratch repositories (Rust's temp_dir: TMPDIR, else /tmp), and
    that directory's file system: upgrades create and delete hundreds of files per service there."""
    where = a.server_tmpdir or os.environ.get("TMPDIR") or "/tmp"
    best = ("?", "")
    with open("/proc/mounts") as f:
        for line in f:
            _, mount, fstype = line.split()[:3]
            if (where + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[1]):
                best = (fstype, mount)
    return {"dir": where, "fs": best[0]}


def start(a, env, name):
    server = cb.Server([a.bin, "serve"], env, a.workdir, os.path.join(a.workdir, f"{name}.log"),
                       os.path.join(a.workdir, "server.pid"))
    server.started = time.monotonic()
    return server


def client(a, token):
    return cb.Client(a.port, {"Authorization": f"Bearer {token}"})


def call(c, method, path, body=None, want=(200,)):
    status, answer, _ = c.request(method, path, None if body is None else json.dumps(body),
                                  headers=JSON, timeout=120)
    if status not in want:
        raise RuntimeError(f"{method} {path} -> {status}: {answer[:1000]!r}")
    return json.loads(answer) if answer else None


# ---------------------------------------------------------------- setup

def create_services(ada, count):
    """Runs the template once per service, keeping IN_FLIGHT runs queued; returns seconds."""
    t0 = time.perf_counter()
    todo = list(range(count))
    running = {}
    while todo or running:
        while todo and len(running) < IN_FLIGHT:
            i = todo.pop(0)
            values = {"name": service_name(i), "description": f"Service {i} of the upgrades benchmark.",
                      "owner": "group:default/payments"}
            task = call(ada, "POST", "/api/scaffolder/v2/tasks",
                        {"templateRef": TEMPLATE_REF, "values": values}, want=(201,))
            running[task["id"]] = i
        time.sleep(0.05)
        for task_id, i in list(running.items()):
            task = call(ada, "GET", f"/api/scaffolder/v2/tasks/{task_id}")
            if task["status"] == "completed":
                del running[task_id]
            elif task["status"] in ("failed", "cancelled"):
                events = call(ada, "GET", f"/api/scaffolder/v2/tasks/{task_id}/events")
                raise RuntimeError(f"creating {service_name(i)}: {task['status']}: {json.dumps(events)[-1500:]}")
    return time.perf_counter() - t0


def edit_repositories(state, count):
    """The teams' own commits on their default branches, pushed as a team would."""
    scratch = os.path.join(os.path.dirname(state.dir), "clones")
    identity = ["-c", "user.name=Ada Okafor", "-c", "user.email=ada@example.com"]
    made = {"edited": 0, "conflicting": 0}
    t0 = time.perf_counter()
    for i in range(count):
        if not (edited(i) or conflicting(i)):
            continue
        path, old, new = gen.CONFLICT_EDIT if conflicting(i) else gen.TEAM_EDIT
        clone = os.path.join(scratch, service_name(i))
        git("clone", "-q", f"{state.dir}/git/payments/{service_name(i)}.git", clone)
        with open(os.path.join(clone, path)) as f:
            text = f.read()
        if old not in text:
            raise RuntimeError(f"{service_name(i)}: {path} has no line {old!r}")
        with open(os.path.join(clone, path), "w") as f:
            f.write(text.replace(old, new))
        git(*identity, "commit", "-qam", f"Our own change to {path}", cwd=clone)
        git("push", "-q", "origin", "HEAD", cwd=clone)
        made["conflicting" if conflicting(i) else "edited"] += 1
    shutil.rmtree(scratch, ignore_errors=True)
    made["seconds"] = round(time.perf_counter() - t0, 2)
    return made


def generate(a, state, version):
    out = subprocess.run([sys.executable, os.path.join(HERE, "gen_template.py"),
                          os.path.join(state.dir, "template"), "--version", str(version),
                          "--files", str(a.files)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def setup(a, state, res):
    os.makedirs(state.dir)
    env = server_env(a, state, 100)
    t0 = time.perf_counter()
    cb.cli(a.bin, env, "seed")
    cb.cli(a.bin, env, "catalog", "import", os.path.join(ROOT, "server", "causeway", "demo", "organisation"))
    tokens = {}
    for user in ("linus", "ada"):
        out = cb.cli(a.bin, env, "token", "create", "--user", f"user:default/{user}", "--name", "bench-upgrades")
        tokens[user] = out.strip().splitlines()[-1].strip()
    res["template"] = {"v1": generate(a, state, 1)}
    server = start(a, env, "setup")
    try:
        linus, ada = client(a, tokens["linus"]), client(a, tokens["ada"])
        tb.wait_ready(server, linus, "/readyz")
        call(linus, "POST", "/api/catalog/locations",
             {"type": "file", "target": os.path.join(state.dir, "template", "template.yaml")}, want=(201,))
        res["setup"] = {"seed_s": round(time.perf_counter() - t0, 2)}
        res["setup"]["create_s"] = round(create_services(ada, a.services), 2)
        res["setup"]["per_service_ms"] = round(res["setup"]["create_s"] * 1000 / a.services, 1)
        fleet = call(linus, "GET", FLEET)
        v1 = fleet["newest"]
        if len(fleet["services"]) != a.services or any(s["version"] != v1 for s in fleet["services"]):
            raise RuntimeError(f"the fleet after setup is not {a.services} services on {v1}: "
                               f"{json.dumps(fleet['versions'])}")
        res["setup"]["edits"] = edit_repositories(state, a.services)
        res["template"]["v2"] = generate(a, state, 2)
        call(linus, "POST", "/api/catalog/refresh", {"entityRef": TEMPLATE_REF})
        fleet = call(linus, "GET", FLEET)
        if not fleet["newest"] or fleet["newest"] == v1:
            raise RuntimeError(f"refreshing the template's location published no new version: {fleet['versions']}")
        res["template"].update(v1_version=v1, v2_version=fleet["newest"],
                               versions=[(v["version"], v["services"]) for v in fleet["versions"]])
    finally:
        server.stop()
    res["setup"]["total_s"] = round(time.perf_counter() - t0, 2)
    state.keep()
    return tokens


# ---------------------------------------------------------------- a measured run

def percentiles(samples):
    if not samples:
        return None
    s = sorted(samples)

    def rank(p):
        return round(s[max(0, math.ceil(p / 100 * len(s)) - 1)], 1)

    return {"p50": rank(50), "p95": rank(95), "max": round(s[-1], 1), "mean": round(sum(s) / len(s), 1)}


def heads(state, count):
    return {service_name(i): git("--git-dir", f"{state.dir}/git/payments/{service_name(i)}.git",
                                 "rev-parse", "refs/heads/main") for i in range(count)}


def read_objects(git_dir, names):
    """`git cat-file --batch` for `names`, one git process per repository: each one's object id
    and content, or (None, None) when missing."""
    p = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "--batch"],
                       input=("\n".join(names) + "\n").encode(), capture_output=True, check=True)
    out, data = [], p.stdout
    for _ in names:
        header, _, data = data.partition(b"\n")
        if header.endswith(b" missing"):
            out.append((None, None))
            continue
        oid, _, size = header.split()
        out.append((oid.decode(), data[:int(size)].decode(errors="replace")))
        data = data[int(size) + 1:]
    return out


def check_repositories(state, fleet, before):
    """Every service's repository after the run, against what its team and the template did."""
    problems = []
    counts = {"branches": 0, "v2_change": 0, "team_edit_kept": 0, "conflict_marked": 0,
              "deleted_file_gone": 0, "default_branch_untouched": 0}
    by_name = {s["service"].rsplit("/", 1)[1]: s for s in fleet["services"]}
    for name, head in before.items():
        i = int(name.split("-")[1])
        upgrade = (by_name.get(name) or {}).get("upgrade") or {}
        branch = upgrade.get("branch")
        if not branch:
            problems.append(f"{name}: no branch ({upgrade.get('status')}: {upgrade.get('message')})")
            continue
        (main, _), (_, dockerfile), (_, runbook), (_, app), (_, changelog), (_, legacy) = read_objects(
            f"{state.dir}/git/payments/{name}.git",
            ["refs/heads/main", f"{branch}:{gen.V2_MARK[0]}", f"{branch}:{gen.TEAM_EDIT[0]}",
             f"{branch}:{gen.CONFLICT_EDIT[0]}", f"{branch}:CHANGELOG.md", f"{branch}:{gen.V2_DELETED[0]}"])
        counts["branches"] += dockerfile is not None
        if dockerfile and gen.V2_MARK[1] in dockerfile and changelog is not None:
            counts["v2_change"] += 1
        else:
            problems.append(f"{name}: {branch} lacks version 2's change")
        if legacy is None:
            counts["deleted_file_gone"] += 1
        else:
            problems.append(f"{name}: {branch} still has {gen.V2_DELETED[0]}")
        if edited(i):
            if runbook and gen.TEAM_EDIT[2] in runbook:
                counts["team_edit_kept"] += 1
            else:
                problems.append(f"{name}: the team's edit of {gen.TEAM_EDIT[0]} is lost on {branch}")
        if conflicting(i):
            if app and "<<<<<<<" in app and gen.CONFLICT_EDIT[2] in app and gen.V2_TIMEOUT in app:
                counts["conflict_marked"] += 1
            else:
                problems.append(f"{name}: {branch} does not mark the conflict in {gen.CONFLICT_EDIT[0]}")
        elif app and "<<<<<<<" in app:
            problems.append(f"{name}: unexpected conflict markers in {gen.CONFLICT_EDIT[0]}")
        if main == head:
            counts["default_branch_untouched"] += 1
        else:
            problems.append(f"{name}: the default branch moved")
    return counts, problems


def expected_outcomes(count):
    conflicts = sum(conflicting(i) for i in range(count))
    return {k: v for k, v in (("open", count - conflicts), ("conflict", conflicts)) if v}


def step_profile(task, pace_ms):
    """Per-service step times from the task's steps, the pace's waits excluded, and the runner's
    gaps. The pace is the least time between the starts of two services: a step waits for what
    is left of it since the previous service started (after its own wait), nothing when the
    previous service took longer. The waits are worked out from the steps' start times, which the
    task records to the millisecond."""
    steps = [s for s in sorted(task["steps"], key=lambda s: s["position"])
             if s["started_at_millis"] is not None and s["finished_at_millis"] is not None]
    work, gaps, waits = [], [], []
    paced_at = None  # when the previous service passed its pace
    for n, step in enumerate(steps):
        begun = step["started_at_millis"]
        wait = 0 if paced_at is None else max(0, pace_ms - (begun - paced_at))
        paced_at = begun + wait
        waits.append(wait)
        work.append(step["finished_at_millis"] - begun - wait)
        if n > 0:
            gaps.append(begun - steps[n - 1]["finished_at_millis"])
    first = steps[0]["started_at_millis"] if steps else None
    return {
        "service_ms": percentiles(work),
        "service_total_s": round(sum(work) / 1000, 2),
        "pace_total_s": round(sum(waits) / 1000, 2),
        "paced_services": sum(1 for w in waits if w > 0),
        "gap_total_s": round(sum(gaps) / 1000, 2),
        "gap_ms": percentiles(gaps),
        "queued_ms": None if first is None else first - task["created_at_millis"],
        "server_s": None if task["finished_at_millis"] is None
        else round((task["finished_at_millis"] - task["created_at_millis"]) / 1000, 2),
        "attempts": sum(s["attempts"] for s in steps),
        # The mean of each tenth of the services, in the order they were upgraded: a rising
        # series is a cost that grows as the task goes on.
        "service_ms_by_tenth": [round(sum(part) / len(part)) for part in
                                (work[k * len(work) // 10:(k + 1) * len(work) // 10] for k in range(10))
                                if part],
    }


def cpu_by_tenth(progress, count):
    """The server's and its git processes' CPU per service over each tenth of the services, from
    (services done, CPU times) pairs taken at each poll: unlike wall time, CPU time hardly
    changes when other work shares the machine, so a rising series is a cost that grows as the
    task goes on."""
    out = []
    marks = [next(((done, cpu) for done, cpu in progress if done >= k * count // 10), progress[-1])
             for k in range(11)]
    for (d0, c0), (d1, c1) in zip(marks, marks[1:]):
        if d1 > d0:
            out.append({"server": round((c1["self_s"] - c0["self_s"]) * 1000 / (d1 - d0)),
                        "git": round((c1["children_s"] - c0["children_s"]) * 1000 / (d1 - d0))})
    return out


def follower_pass(linus, pid, fleet):
    """One pass of the change-request follower over the upgrades just opened, asked for through
    `POST …/fleet/refresh` (the fleet page's button): the same pass `causeway serve` makes every
    minute, for as long as the changes stay open."""
    waiting = sum(1 for s in fleet["services"]
                  if (s.get("upgrade") or {}).get("status") in ("open", "conflict"))
    cpu0 = cpu_times(pid)
    t0 = time.perf_counter()
    status, answer, _ = linus.request("POST", FLEET + "/refresh", "{}", headers=JSON, timeout=300)
    took = time.perf_counter() - t0
    cpu1 = cpu_times(pid)
    return {"changes": waiting, "status": status, "s": round(took, 2),
            "changed": json.loads(answer).get("changed") if status == 200 else answer[:300].decode(errors="replace"),
            "cpu_server_s": round(cpu1["self_s"] - cpu0["self_s"], 2),
            "cpu_git_s": round(cpu1["children_s"] - cpu0["children_s"], 2)}


def git_wrapper(workdir):
    """A directory with a `git` that runs the real one with trace2's event target set to a
    directory (one file per git process, children included)."""
    real = shutil.which("git")
    wrap = os.path.join(workdir, "git-trace", "bin")
    traces = os.path.join(workdir, "git-trace", "events")
    shutil.rmtree(os.path.dirname(wrap), ignore_errors=True)
    os.makedirs(wrap)
    os.makedirs(traces)
    with open(os.path.join(wrap, "git"), "w") as f:
        f.write(f"#!/bin/sh\nGIT_TRACE2_EVENT={traces}\nexport GIT_TRACE2_EVENT\nexec {real} \"$@\"\n")
    os.chmod(os.path.join(wrap, "git"), 0o755)
    return wrap, traces


def git_profile(traces, services):
    """git's trace2 events: per command the number of processes the server started and their wall
    time (a process's `exit` t_abs), and the processes git itself started (push and fetch start
    pack-objects, receive-pack and upload-pack)."""
    by_command, nested = {}, 0
    for path in glob.glob(os.path.join(traces, "*")):
        with open(path, errors="replace") as f:
            events = [json.loads(line) for line in f if line.startswith("{")]
        for sid in {e.get("sid") for e in events}:
            own = [e for e in events if e.get("sid") == sid]
            start = next((e for e in own if e.get("event") == "start"), None)
            end = next((e for e in own if e.get("event") == "exit"), None)
            if start is None:
                continue
            if "/" in sid:
                nested += 1
                continue
            argv = [x for x in start.get("argv", [])[1:]]
            while argv[:1] == ["-c"]:
                argv = argv[2:]
            name = argv[0] if argv else "?"
            entry = by_command.setdefault(name, {"processes": 0, "wall_s": 0.0})
            entry["processes"] += 1
            entry["wall_s"] += end.get("t_abs", 0.0) if end else 0.0
    total = sum(e["processes"] for e in by_command.values())
    wall = sum(e["wall_s"] for e in by_command.values())
    for e in by_command.values():
        e["wall_s"] = round(e["wall_s"], 2)
        e["per_service"] = round(e["processes"] / services, 1)
    return {"processes": total, "per_service": round(total / services, 1), "wall_s": round(wall, 2),
            "wall_ms_per_service": round(wall * 1000 / services, 1), "nested_processes": nested,
            "by_command": dict(sorted(by_command.items(), key=lambda kv: -kv[1]["wall_s"]))}


def measure(a, state, tokens, run):
    """One measured run into `run` (which names its pace), filled as far as it got."""
    pace, profile = run["pace_ms"], run["profile"]
    state.restore()
    path, traces = None, None
    if profile:
        wrap, traces = git_wrapper(a.workdir)
        path = wrap + os.pathsep + os.environ.get("PATH", "")
    server = start(a, server_env(a, state, pace, path), f"run-pace{pace}{'-profile' if profile else ''}")
    try:
        linus = client(a, tokens["linus"])
        tb.wait_ready(server, linus, "/readyz")
        # Until the machine is idle (the server's start reads every location again), at most
        # two minutes: on a shared machine, other work may hold the cores for a while.
        run["quiet_wait_s"] = cb.wait_quiet(limit=120)
        before = heads(state, a.services)
        run["reference_ms"] = reference(a, state)
        if traces:
            for f in glob.glob(os.path.join(traces, "*")):
                os.remove(f)  # only the upgrade's git processes
        sampler = Sampler(server.pid)
        sampler.sample()
        cpu0, busy0 = cpu_times(server.pid), machine_busy_s()
        run["load_start"] = open("/proc/loadavg").read().split()[0]
        since_start = time.monotonic() - server.started
        sampler.start()
        t0 = time.perf_counter()
        task = call(linus, "POST", UPGRADES, {}, want=(202,))
        run["post_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        last_event, polls, progress = 0, 0, [(0, cpu0)]
        while True:
            got = call(linus, "GET", f"/api/tasks/{task['id']}?after={last_event}")
            polls += 1
            if got["events"]:
                last_event = got["events"][-1]["id"]
            status = got["task"]["status"]
            progress.append((sum(s["status"] == "completed" for s in got["task"]["steps"]),
                             cpu_times(server.pid)))
            if status in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        sampler.stop()
        cpu1, busy1 = cpu_times(server.pid), machine_busy_s()
        server.check()
        run["wall_s"] = round(wall, 2)
        run["status"] = status
        run["polls"] = polls
        run["rss_mib"] = {"start": sampler.samples[0], "peak": max(sampler.samples),
                          "end": sampler.samples[-1], "samples": len(sampler.samples),
                          "peak_with_git": max(sampler.tree), "hwm": cb.proc_status(server.pid).get("VmHWM"),
                          "max_git_processes": sampler.max_children,
                          # The highest sample of each tenth of the run: a steady rise would be
                          # memory held per service, a step then a plateau memory that is reused.
                          "by_tenth": [max(part) for part in
                                       (sampler.samples[k * len(sampler.samples) // 10:
                                                        (k + 1) * len(sampler.samples) // 10] for k in range(10))
                                       if part]}
        server_s, git_s = cpu1["self_s"] - cpu0["self_s"], cpu1["children_s"] - cpu0["children_s"]
        # What the rest of the machine did meanwhile (this client, the kernel, anything else
        # running): a run that shared the two cores with other work says so.
        run["cpu_s"] = {"server": round(server_s, 2), "git": round(git_s, 2),
                        "others": round(busy1 - busy0 - server_s - git_s, 2)}
        run["cpu_ms_per_service_by_tenth"] = cpu_by_tenth(progress, a.services)
        run["follower_ticks"] = sum(1 for k in range(1, 1000)
                                    if since_start <= k * FOLLOWER_PERIOD_S <= since_start + wall)
        if traces:
            run["git"] = git_profile(traces, a.services)
        full = call(linus, "GET", f"/api/tasks/{task['id']}")
        run["profile_steps"] = step_profile(full["task"], pace)
        run["task_output"] = full["task"].get("output")
        if status != "completed":
            run["task_error"] = full["task"].get("error")
            raise RuntimeError(f"the upgrade task ended {status}: {full['task'].get('error')}")
        fleet = call(linus, "GET", FLEET)
        run["outcomes"] = fleet["upgrades"]
        want = expected_outcomes(a.services)
        got = {k: v for k, v in fleet["upgrades"].items() if v}
        run["outcomes_expected"] = want
        run["outcomes_ok"] = got == want
        run["repositories"], problems = check_repositories(state, fleet, before)
        run["follower_pass"] = follower_pass(linus, server.pid, fleet)
        run["problems"] = problems[:20]
        if not run["outcomes_ok"]:
            raise RuntimeError(f"outcomes {got}, expected {want}")
        if problems:
            raise RuntimeError(f"{len(problems)} repositories are not as expected, e.g. {problems[:3]}")
        run["ok"] = True
    finally:
        server.stop()


def reference(a, state, count=20):
    """A fixed piece of git work, timed: `count` times a new bare repository and a fetch of one
    service's default branch into it, the two commands an upgrade starts with (ms each), in the
    directory the server makes its scratch repositories in. The same work takes twice as long at
    times, with nothing else using the CPU (on ext4, creating files next to many just deleted
    costs more); this figure beside each run says how fast the machine was for it."""
    scratch = tempfile.mkdtemp(prefix="bench-upgrades-reference-", dir=scratch_dir(a)["dir"])
    source = f"{state.dir}/git/payments/{service_name(0)}.git"
    t0 = time.perf_counter()
    for i in range(count):
        repo = os.path.join(scratch, f"{i}.git")
        git("init", "-q", "--bare", repo)
        git("--git-dir", repo, "fetch", "-q", source, "+refs/heads/main:refs/reference/main")
    took = (time.perf_counter() - t0) * 1000 / count
    shutil.rmtree(scratch, ignore_errors=True)
    return round(took, 1)


# A run during which the rest of the machine (this client, the kernel and any other work) kept
# more than this share of one core busy shared the two cores with other work; about 5% on an
# otherwise idle machine.
SHARED = 0.15


def shared(run):
    cpu, wall = run.get("cpu_s") or {}, run.get("wall_s")
    return bool(wall) and cpu.get("others", 0) / wall > SHARED


def summary(run):
    return {k: run.get(k) for k in ("ok", "wall_s", "reference_ms", "cpu_s", "load_start", "error")} | {
        "rss_peak_mib": (run.get("rss_mib") or {}).get("peak"), "shared": shared(run)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--paces", default="100,0")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server-tmpdir", help="the server's TMPDIR (where it makes scratch repositories)")
    ap.add_argument("--engine", default="sqlite")
    ap.add_argument("--db-url")
    ap.add_argument("--pg-bin")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    state = State(a)
    res = {"services": a.services, "engine": a.engine, "workdir": a.workdir, "runs": [], "scratch": scratch_dir(a),
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    try:
        tokens = setup(a, state, res)
        plan = [(int(p), False) for p in a.paces.split(",") if p.strip()]
        if a.profile:
            plan.append((0, True))
        for pace, profile in plan:
            made = []
            for _ in range(1 if profile else a.repeat):
                run = {"pace_ms": pace, "services": a.services, "profile": profile, "ok": False}
                try:
                    measure(a, state, tokens, run)
                except Exception as e:  # the other runs are still made
                    run["error"] = f"{type(e).__name__}: {e}"
                made.append(run)
            # The run with the median time stands for the pace, among the runs that had the
            # machine to themselves when there are any; every run is listed beside it.
            done = sorted((r for r in made if r["ok"]), key=lambda r: r["wall_s"])
            alone = [r for r in done if not shared(r)] or done
            chosen = alone[(len(alone) - 1) // 2] if alone else made[-1]
            chosen["repeats"] = [summary(r) for r in made]
            res["runs"].append(chosen)
        res["ok"] = all(r["ok"] for r in res["runs"])
    except Exception as e:  # partial results are still reported
        res["ok"] = False
        res["error"] = f"{type(e).__name__}: {e}"
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
