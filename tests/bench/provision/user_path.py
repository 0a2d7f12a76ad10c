#!/usr/bin/env python3
"""The provisioning benchmark's user path: what a developer waits for.

A `causeway serve` process (the binary given, normally the release build) runs against the control
plane of TEST_KUBECONFIG on a SQLite database of its own, with a catalog of one team and its
components. Each run sends `POST /api/provision/apply` for a new environment over HTTP on loopback
and polls `GET /api/tasks/{id}` every 5 ms until the task has completed: authentication, the
request's checks (catalog, guardrails, the live namespace), storing the task, the server's worker
claiming it, and its six steps (check, record, namespace, objects, prune, verify). The figures are
printed as a Markdown table.

Usage: user_path.py CAUSEWAY_BINARY [RUNS]
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

POLL_SECONDS = 0.005


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalog(services):
    docs = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "bench-team"},
            "spec": {"type": "team", "children": []},
        },
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": "bench"},
            "spec": {"memberOf": ["bench-team"]},
        },
    ]
    for service in services:
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {
                    "name": service,
                    "annotations": {
                        "causeway.dev/cost-centre": "cc-4711",
                        "github.com/project-slug": f"example/{service}",
                    },
                },
                "spec": {"type": "service", "lifecycle": "production", "owner": "bench-team"},
            }
        )
    return "\n---\n".join(json.dumps(d) for d in docs)


def call(method, url, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


def apply_and_wait(base, token, service):
    started = time.perf_counter()
    status, task = call(
        "POST", f"{base}/api/provision/apply", token, {"service": service, "environment": "dev"}
    )
    assert status == 202, (status, task)
    while True:
        _, found = call("GET", f"{base}/api/tasks/{task['id']}", token)
        state = found["task"]["status"]
        if state == "completed":
            return time.perf_counter() - started
        if state in ("failed", "cancelled"):
            raise SystemExit(f"task for {service} {state}: {found['task'].get('error')}")
        time.sleep(POLL_SECONDS)


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    kubeconfig = os.environ["TEST_KUBECONFIG"]
    tag = uuid.uuid4().hex[:6]
    services = [f"u{tag}-{i}" for i in range(runs + 1)]
    with tempfile.TemporaryDirectory(prefix="causeway-bench-") as work:
        port = free_port()
        env = dict(
            os.environ,
            CAUSEWAY_DATABASE_URL=f"sqlite://{work}/causeway.db",
            CAUSEWAY_KUBECONFIG=kubeconfig,
            CAUSEWAY_LISTEN=f"127.0.0.1:{port}",
            CAUSEWAY_GITOPS_DIR=f"{work}/gitops",
            CAUSEWAY_LOG_FILTER="warn",
            # No load balancer watches this server: it may stop at once on SIGTERM.
            CAUSEWAY_SHUTDOWN_DELAY_SECS="0",
        )
        path = os.path.join(work, "catalog.yaml")
        with open(path, "w") as f:
            f.write(catalog(services))
        run = lambda *args: subprocess.run(  # noqa: E731
            [binary, *args], env=env, check=True, capture_output=True, text=True
        )
        run("migrate")
        run("catalog", "import", path)
        token = run("token", "create", "--user", "user:default/bench").stdout.strip().splitlines()[-1]
        server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                if time.time() > deadline:
                    raise SystemExit("the server did not become ready within 60 s")
                time.sleep(0.1)
            # The first apply opens the server's connections to the API server; it is not counted.
            apply_and_wait(base, token, services[0])
            times = [apply_and_wait(base, token, s) for s in services[1:]]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    ms = lambda t: f"{t * 1000:.1f} ms"  # noqa: E731
    print(f"## User path, median of {runs}\n")
    print("| | median | min | max |\n|---|---|---|---|")
    print(
        f"| `POST /api/provision/apply` until the task is completed "
        f"(polled every {POLL_SECONDS * 1000:.0f} ms) | {ms(statistics.median(times))} | "
        f"{ms(min(times))} | {ms(max(times))} |"
    )


if __name__ == "__main__":
    main()
