"""What every part of the catalog benchmark shares: the clock, the server process and its memory
and CPU as /proc reports them, and a keep-alive HTTP client."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time


def now():
    return time.monotonic()


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0]) // 1024  # MiB
    except FileNotFoundError:
        pass
    return out


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return round((int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except FileNotFoundError:
        return None


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects once on a dropped connection."""

    def __init__(self, port, headers=None):
        self.port = port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.conn = None

    def request(self, method, path, body=None, headers=None, timeout=60):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self.conn.timeout = timeout
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(timeout)
                self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
                r = self.conn.getresponse()
                return r.status, r.read(), r
            except (ConnectionError, http.client.HTTPException, socket.timeout, OSError):
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def get(self, path, timeout=60):
        status, body, _ = self.request("GET", path, timeout=timeout)
        return status, body

    def json(self, path, timeout=60):
        status, body = self.get(path, timeout)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
        return json.loads(body)


class Server:
    """A server process in its own session, stopped with SIGTERM (then SIGKILL) on its group."""

    def __init__(self, argv, env, cwd, log_path, pid_file):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        # the runner's trap reads this to stop the server if this script dies without `finally`
        with open(pid_file, "w") as f:
            f.write(f"{self.pid}\n")

    def check(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited rc={self.proc.returncode}, see {self.log.name}")

    def stop(self):
        """Stops the server (a no-op once it has stopped) and returns its exit code."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                # Causeway keeps serving for its shutdown delay (5 s by default) after a SIGTERM.
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def wait_ready(server, client, path, started, limit):
    """Polls `path` every 10 ms until it answers 200; raises when the server exits or `limit`
    seconds have passed since `started`. Returns the time it answered."""
    while True:
        server.check()
        if now() - started > limit:
            raise RuntimeError(f"{path} not 200 within {limit} s")
        try:
            if client.get(path, timeout=5)[0] == 200:
                return now()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.01)
