#!/usr/bin/env python3
"""The delivery benchmark's data: a catalog of SERVICES components owned by TEAMS teams, and the
delivery events their pipelines, git servers and alerting would send over DAYS days, in batches
of at most 1,000 as `POST /api/events` takes them; and what DORA's measures must be for them.

    gen_events.py OUTDIR --services 500 --teams 25 --events 1000000 --days 100 --end 2026-12-06
                  [--seed 7] [--retries 0.002]

Each service makes releases at random times over the days (about 3.5 a day at 500 services and a
million events). A release is 1 to 5 commits (a change event each, sent when it is authored,
1 minute to 5 days before the release), then a deployment to `dev`, to `staging` and to `prod`,
each listing the commits it contains: a production deployment lists every commit since the last
successful one, so the commits of a failed deployment are listed again by the next. Production
deployments succeed (88%), fail (7%) or are rolled back (5%; then a deployment of the previous
version follows ten minutes later, listing that version's commits, already shipped). One
successful production deployment in twenty causes an incident (opened 10 minutes to 3 hours
after it, resolved 20 minutes to 8 hours later, by a second event about the same incident; not
resolved when that time is past the end); one release in a hundred meets an incident nobody
traced to a deployment. Deployments and incidents are CloudEvents, changes the plain form, as a
pipeline, an alerting webhook and a git webhook would send them. A fraction (--retries) of the
events is sent a second time, as a sender that did not get its answer retries: recorded once.

The stream is sorted by the time each event would be sent and cut into batches of 1,000.

Writes, in OUTDIR:
  catalog.yaml    the teams and components;
  batches.jsonl   one JSON array per line, the request bodies in order;
  expect.json     written last: counts, and the measures (by this file's own implementation of the
                  README's rules, from the events as sent) of some services, a team and the
                  organisation over the 90 days ending at --end, summary and per ISO week.
"""
import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
WEEK = 7 * DAY
RANGE_DAYS = 90
SOURCE_GIT = "urn:bench:git"
SOURCE_PIPELINE = "urn:bench:tekton"
SOURCE_ALERTS = "urn:bench:alertmanager"


def service_name(i):
    return f"svc-{i:04d}"


def team_name(t):
    return f"delivery-{t:02d}"


def iso(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def midnight(day):
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


# ---------------------------------------------------------------- one service's history

class Service:
    """The events of one service, and its history as the server stores it."""

    def __init__(self, i, budget, start, end, seed):
        self.name = service_name(i)
        self.ref = f"component:default/{self.name}"
        self.rng = random.Random(seed * 1_000_003 + i)
        self.events = []  # (send time, event)
        self.deployments = []  # production: (id, status, finished)
        self.links = set()  # (deployment, sha) of production deployments
        self.authored = {}  # sha -> authored
        self.incidents = {}  # id -> [opened, resolved, caused_by]
        self._generate(budget, start, end)

    def _seconds(self, lo, hi):
        """A random duration in [lo, hi) milliseconds, in whole seconds: the events' RFC 3339
        times carry seconds, so the server sees exactly the times measured here."""
        return self.rng.randrange(lo // 1000, hi // 1000) * 1000

    def _sha(self, n):
        return hashlib.sha1(f"{self.name}/{n}".encode()).hexdigest()

    def _deploy(self, n, env, status, started, finished, version, commits):
        dep_id = f"{self.name}-{env}-{n}"
        self.events.append((finished, {
            "specversion": "1.0", "id": dep_id, "source": SOURCE_PIPELINE,
            "type": "dev.causeway.deployment.finished", "time": iso(finished),
            "datacontenttype": "application/json",
            "data": {"service": self.name, "environment": env, "version": version, "status": status,
                     "startedAt": iso(started), "finishedAt": iso(finished), "commits": list(commits)},
        }))
        if env == "prod":
            self.deployments.append((dep_id, status, finished))
            self.links.update((dep_id, sha) for sha in commits)
        return dep_id

    def _incident(self, key, opened, resolved, caused_by, end):
        body = {"incident": key, "openedAt": iso(opened), "severity": self.rng.choice(["critical", "SEV2", "warning"]),
                "service": self.name}
        if caused_by:
            body["causedBy"] = caused_by
        self.events.append((opened, {"specversion": "1.0", "id": f"{key}-opened", "source": SOURCE_ALERTS,
                                     "type": "dev.causeway.incident.opened", "data": dict(body)}))
        self.incidents[key] = [opened, None, caused_by]
        if resolved < end:
            body["resolvedAt"] = iso(resolved)
            self.events.append((resolved, {"specversion": "1.0", "id": f"{key}-resolved", "source": SOURCE_ALERTS,
                                           "type": "dev.causeway.incident.resolved", "data": body}))
            self.incidents[key][1] = resolved

    def _generate(self, budget, start, end):
        rng = self.rng
        # The releases' shapes first, until they make the budget; then their times.
        shapes = []
        count = 0
        while count < budget:
            commits = rng.choice([1, 1, 2, 2, 2, 3, 3, 4, 5])
            roll = rng.random()
            status = "succeeded" if roll < 0.88 else "failed" if roll < 0.95 else "rolled_back"
            incident = status == "succeeded" and rng.random() < 0.05
            stray = rng.random() < 0.01
            shapes.append((commits, status, incident, stray))
            count += commits + 3 + (status == "rolled_back") + (2 if incident else 0) + (2 if stray else 0)
        times = sorted(start + self._seconds(0, end - 6 * HOUR - start) for _ in shapes)
        sha_n = 0
        pending = []  # commits not yet shipped to production
        good = None  # (version, commits) of the last successful production deployment
        for n, ((commits, status, incident, stray), t) in enumerate(zip(shapes, times)):
            mine = []
            for _ in range(commits):
                sha = self._sha(sha_n)
                sha_n += 1
                authored = t - int(min(rng.expovariate(1 / (20 * HOUR)), 5 * DAY)) // 1000 * 1000 - MINUTE
                self.authored[sha] = authored
                mine.append(sha)
                self.events.append((authored, {"kind": "change", "id": f"{self.name}-change-{sha[:12]}",
                                               "source": SOURCE_GIT, "service": self.name, "sha": sha,
                                               "authoredAt": iso(authored)}))
            version = f"1.{n}.0"
            self._deploy(n, "dev", "succeeded", t, t + 4 * MINUTE, version, mine)
            self._deploy(n, "staging", "succeeded", t + 10 * MINUTE, t + 15 * MINUTE, version, mine)
            pending += mine
            started, finished = t + 25 * MINUTE, t + 25 * MINUTE + self._seconds(2 * MINUTE, 12 * MINUTE)
            dep = self._deploy(n, "prod", status, started, finished, version, pending)
            if status == "succeeded":
                good = (version, pending)
                pending = []
                if incident:
                    opened = finished + self._seconds(10 * MINUTE, 3 * HOUR)
                    self._incident(f"{self.name}-INC-{n}", opened, opened + self._seconds(20 * MINUTE, 8 * HOUR),
                                   dep, end)
            elif status == "rolled_back":
                back = finished + 10 * MINUTE
                previous = good or ("0.0.0", [])
                self._deploy(f"{n}-rollback", "prod", "succeeded", back - 2 * MINUTE, back, previous[0],
                             previous[1])
            if stray:
                opened = t + self._seconds(HOUR, 20 * HOUR)
                self._incident(f"{self.name}-STRAY-{n}", opened, opened + self._seconds(20 * MINUTE, 4 * HOUR),
                               None, end)

    # ------------------------------------------------------------ the README's rules

    def facts(self):
        """delivery/dora.rs `facts`, in Python, from what this service sent."""
        deps = sorted(self.deployments, key=lambda d: (d[2], d[0]))
        finished = {d[0]: (d[2], d[1]) for d in deps}
        first = {}
        for dep, sha in self.links:
            at, status = finished[dep]
            if status != "succeeded":
                continue
            if sha not in first or at < first[sha]:
                first[sha] = at
        lead = [(at, max(at - self.authored[sha], 0)) for sha, at in first.items() if sha in self.authored]
        caused = {}
        for opened, resolved, cause in self.incidents.values():
            if cause:
                caused.setdefault(cause, []).append((opened, resolved))
        failed = [False] * len(deps)
        rework = [False] * len(deps)
        recoveries = []
        for i, (dep, status, fin) in enumerate(deps):
            mine = caused.get(dep, [])
            own = status != "succeeded"
            if not own and not mine:
                continue
            failed[i] = True
            failed_at = fin if own else min(o for o, _ in mine)
            nxt = next((j for j in range(i + 1, len(deps))
                        if deps[j][1] == "succeeded" and deps[j][2] > failed_at), None)
            resolved = min((r for _, r in mine if r is not None), default=None)
            if nxt is not None and (resolved is None or deps[nxt][2] <= resolved):
                rework[nxt] = True
                recovered = deps[nxt][2]
            else:
                recovered = resolved
            recoveries.append((failed_at, None if recovered is None else max(recovered - failed_at, 0)))
        return {"deployments": [(d[2], failed[i], rework[i]) for i, d in enumerate(deps)],
                "lead": lead, "recoveries": recoveries}


def pooled(facts_list):
    out = {"deployments": [], "lead": [], "recoveries": []}
    for f in facts_list:
        for k in out:
            out[k] += f[k]
    return out


def nearest_rank(values, percent):
    if not values:
        return None
    return values[max(math.ceil(percent * len(values) / 100), 1) - 1]


def durations(values):
    values = sorted(values)
    return {"count": len(values), "medianMillis": nearest_rank(values, 50), "p90Millis": nearest_rank(values, 90)}


def keys(facts, start, end):
    """delivery/dora.rs `keys`: the measures over [start, end), as the REST answer names them."""
    deps = [d for d in facts["deployments"] if start <= d[0] < end]
    failed = sum(1 for d in deps if d[1])
    rework = sum(1 for d in deps if d[2])
    failures = [r for r in facts["recoveries"] if start <= r[0] < end]
    n = len(deps)
    return {
        "deployments": n,
        "deploymentsPerWeek": n * WEEK / max(end - start, 1),
        "failedDeployments": failed,
        "changeFailRate": failed / n if n else None,
        "leadTime": durations([lt for at, lt in facts["lead"] if start <= at < end]),
        "recoveryTime": durations([r for _, r in failures if r is not None]),
        "unrecovered": sum(1 for _, r in failures if r is None),
        "reworkDeployments": rework,
        "reworkRate": rework / n if n else None,
    }


def weeks(start, end):
    """ISO weeks meeting [start, end), cut to it."""
    day = dt.datetime.fromtimestamp(start / 1000, dt.timezone.utc).date()
    monday = day - dt.timedelta(days=day.weekday())
    out = []
    while midnight(monday) < end:
        year, week, _ = monday.isocalendar()
        nxt = monday + dt.timedelta(days=7)
        out.append((f"{year}-W{week:02d}", max(midnight(monday), start), min(midnight(nxt), end)))
        monday = nxt
    return out


def measures(facts, start, end):
    return {"summary": keys(facts, start, end),
            "weeks": [{"week": w, "keys": keys(facts, s, e)} for w, s, e in weeks(start, end)]}


# ---------------------------------------------------------------- output

def catalog(services, teams):
    docs = []
    for t in range(teams):
        docs.append(f"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {team_name(t)}\n"
                    f"spec:\n  type: team\n  children: []\n")
    for i in range(services):
        docs.append(f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service_name(i)}\n"
                    f"spec:\n  type: service\n  lifecycle: production\n  owner: group:default/{team_name(i % teams)}\n")
    return "---\n".join(docs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--services", type=int, default=500)
    p.add_argument("--teams", type=int, default=25)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=100)
    p.add_argument("--end", default=dt.datetime.now(dt.timezone.utc).date().isoformat(),
                   help="the last day, included (default today, UTC)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--retries", type=float, default=0.002)
    p.add_argument("--batch", type=int, default=1000)
    a = p.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    end_day = dt.date.fromisoformat(a.end)
    end = midnight(end_day + dt.timedelta(days=1))
    start = end - a.days * DAY

    services = []
    for i in range(a.services):
        budget = a.events // a.services + (1 if i < a.events % a.services else 0)
        services.append(Service(i, budget, start, end, a.seed))

    stream = [(at, s.name, n, e) for s in services for n, (at, e) in enumerate(s.events)]
    stream.sort(key=lambda x: (x[0], x[1], x[2]))
    rng = random.Random(a.seed)
    unique = len(stream)
    retried = 0
    kinds = {}
    with open(os.path.join(a.outdir, "catalog.yaml"), "w") as f:
        f.write(catalog(a.services, a.teams))
    batches = 0
    with open(os.path.join(a.outdir, "batches.jsonl"), "w") as f:
        batch = []

        def flush():
            nonlocal batch, batches
            if batch:
                f.write(json.dumps(batch, separators=(",", ":")) + "\n")
                batches += 1
                batch = []

        for _, _, _, event in stream:
            kind = event.get("kind") or event["type"].split(".")[2]
            kinds[kind] = kinds.get(kind, 0) + 1
            batch.append(event)
            if len(batch) == a.batch:
                flush()
            if rng.random() < a.retries:
                # Sent again by a sender that missed the answer, in the next batch or the same one.
                retried += 1
                batch.append(event)
                if len(batch) == a.batch:
                    flush()
        flush()

    range_end = end
    range_start = end - RANGE_DAYS * DAY
    facts = {s.name: s.facts() for s in services}
    checked = [0, 1, 2, a.services // 2, a.services - 1]
    team0 = [s.name for i, s in enumerate(services) if i % a.teams == 0]
    expect = {
        "services": a.services, "teams": a.teams, "days": a.days, "end": a.end, "seed": a.seed,
        "from": (end_day - dt.timedelta(days=RANGE_DAYS - 1)).isoformat(), "to": a.end,
        "events": unique, "retried": retried, "sent": unique + retried, "batches": batches, "kinds": kinds,
        "stored": {
            "production_deployments": sum(len(s.deployments) for s in services),
            "commits": sum(len(s.authored) for s in services),
            "incidents": sum(len(s.incidents) for s in services),
        },
        "team_names": [team_name(t) for t in range(a.teams)],
        "service_names": [s.name for s in services],
        "check": {
            "services": {services[i].name: measures(facts[services[i].name], range_start, range_end)
                         for i in checked},
            "team": {"name": team_name(0),
                     **measures(pooled([facts[n] for n in team0]), range_start, range_end)},
            "organisation": measures(pooled(facts.values()), range_start, range_end),
        },
    }
    tmp = os.path.join(a.outdir, "expect.json.tmp")
    with open(tmp, "w") as f:
        json.dump(expect, f, indent=1)
    os.replace(tmp, os.path.join(a.outdir, "expect.json"))
    print(json.dumps({k: expect[k] for k in ("events", "retried", "sent", "batches", "kinds", "stored")}))


if __name__ == "__main__":
    main()
