"""Live processes for the fault, load and live-fuzz runs: gunicorn, a private PostgreSQL and a private Redis.

Everything binds 127.0.0.1 on a free port in a temporary directory; the shared 5432/6379 servers are never touched.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def children(pid: int) -> set[int]:
    """Direct children of `pid` (gunicorn's workers), read from /proc."""
    found = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        fields_ = text.rsplit(")", 1)[1].split()
        if int(fields_[1]) == pid:
            found.add(int(stat.split("/")[2]))
    return found


def stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """Stop a process started in its own session (and its children): SIGTERM, then SIGKILL after `timeout` s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def get(port: int, path: str, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# --- private PostgreSQL ---------------------------------------------------------------------------------------


def pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return str(Path(found[-1]).parent)
    which = shutil.which("pg_ctl")
    return str(Path(which).parent) if which else None


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory, on a free port, trust auth; run as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self._as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        cmd = [*self._as_user, f"{self.bindir}/{tool}", *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout, cwd=self.dir)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- private Redis --------------------------------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, no persistence, as our own child process (stop, start, SIGSTOP, SIGCONT)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server not found")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--dir", str(self.dir)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- gunicorn -------------------------------------------------------------------------------------------------


class Gunicorn:
    """`gunicorn -c deploy/gunicorn.conf.py wsgi:app` on a free loopback port, its error log in a file."""

    def __init__(self, env: dict, workers: int = 2, app: str = "wsgi:app") -> None:
        self.port = free_port()
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="faults-gunicorn-"))
        self.log_path = self.dir / "error.log"
        full_env = {k: v for k, v in os.environ.items() if k not in ("CACHE_REDIS_URL", "DATABASE_URL")}
        full_env.update({"PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": str(workers), "RATELIMIT_ENABLED": "0"})
        full_env.update({k: str(v) for k, v in env.items() if v is not None})
        # --no-control-socket: several gunicorns may run at once; none may take over ~/.gunicorn/gunicorn.ctl.
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
               "--no-control-socket", app]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=self._log, stderr=self._log,
                                     start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(self.port, "/healthz", timeout=1)[0] == 200 and len(self.worker_pids()) == workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def worker_pids(self) -> set[int]:
        return children(self.proc.pid)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_group(self.proc, 15)
        self._log.close()


# --- bounded load from threads --------------------------------------------------------------------------------


@dataclass
class Sample:
    url: str
    start: float
    end: float
    status: int | None  # None: connection error / timeout
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    @property
    def elapsed(self) -> float:
        return self.end - self.start


class Load:
    """`threads` clients requesting `urls()` in a loop until stopped; every response is kept as a Sample."""

    def __init__(self, port: int, urls, threads: int = 4, timeout: float = 5.0, pause: float = 0.0) -> None:
        self.port, self.urls, self.timeout, self.pause = port, urls, timeout, pause
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        n = index
        while not self._stop.is_set():
            url = self.urls(n)
            n += len(self._threads)
            start = time.monotonic()
            try:
                status, headers, body = get(self.port, url, timeout=self.timeout)
                sample = Sample(url, start, time.monotonic(), status, headers, body)
            except (OSError, http.client.HTTPException) as exc:  # reset, refused, timeout, truncated response
                sample = Sample(url, start, time.monotonic(), None, error=f"{exc.__class__.__name__}: {exc}")
            with self._lock:
                self.samples.append(sample)
            if self.pause:
                time.sleep(self.pause)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.start >= start and s.start < end]


# --- nginx ----------------------------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


# --- Prometheus -----------------------------------------------------------------------------------------------


class Prometheus:
    """Debian's `prometheus` on a free loopback port, scraping `targets` every second, its TSDB in a temp dir."""

    def __init__(self, targets: list[str], interval: str = "1s") -> None:
        self.binary = shutil.which("prometheus")
        if not self.binary:
            raise RuntimeError("prometheus not found (make test installs Debian's package)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="prometheus-"))
        config = self.dir / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}\n"
            "scrape_configs:\n"
            "  - job_name: bulletin\n"
            "    metrics_path: /metrics\n"
            f"    static_configs: [{{targets: [{', '.join(repr(t) for t in targets)}]}}]\n"
        )
        cmd = [self.binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir / 'data'}",
               f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]  # fmt: skip
        self._log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(self.port, "/-/ready", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"prometheus did not start:\n{(self.dir / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.1)

    def query(self, promql: str) -> list[dict]:
        """The instant vector of `promql` (HTTP API /api/v1/query): [{"metric": {...}, "value": float}]."""
        import json
        from urllib.parse import quote

        status, _, body = get(self.port, f"/api/v1/query?query={quote(promql)}")
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"{promql}: {status} {answer}")
        return [{"metric": r["metric"], "value": float(r["value"][1])} for r in answer["data"]["result"]]

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return result[0]["value"] if result else None

    def wait_for(self, promql: str, predicate, timeout: float = 15.0):
        """Poll `promql` until predicate(result) holds (scrapes are 1 s apart); the last result otherwise fails."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql}: still {result} after {timeout} s")
            time.sleep(0.25)

    def stop(self) -> None:
        stop_group(self.proc, 10)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- nginx ----------------------------------------------------------------------------------------------------


class Nginx:
    """The shipped deploy/nginx.conf in front of `upstream` (a loopback port): own prefix, pid, logs, cache."""

    def __init__(self, upstream: int | list[int]) -> None:
        import re

        self.binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if not self.binary:
            raise RuntimeError("nginx not found (make test installs Debian's nginx-light)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="nginx-"))
        for d in ("logs", "tmp", "cache"):
            (self.dir / d).mkdir()
        self.access_log = self.dir / "logs" / "access.log"
        shipped = (ROOT / "deploy" / "nginx.conf").read_text()
        ports = [upstream] if isinstance(upstream, int) else upstream  # several: the instances behind one nginx
        servers = ";\n    server ".join(f"127.0.0.1:{p}" for p in ports)
        subs = [
            (r"(proxy_cache_path\s+)\S+", rf"\g<1>{self.dir / 'cache'}"),
            (r"(upstream\s+bulletin_api\s*\{\s*server\s+)127\.0\.0\.1:\d+;", rf"\g<1>{servers};"),
            (r"(listen\s+)127\.0\.0\.1:\d+", rf"\g<1>127.0.0.1:{self.port}"),
            (r"(access_log\s+)\S+", rf"\g<1>{self.access_log}"),
        ]
        for pattern, repl in subs:
            shipped, n = re.subn(pattern, repl, shipped, count=1)
            if n != 1:
                raise RuntimeError(f"deploy/nginx.conf no longer has the directive {pattern!r}")
        (self.dir / "bulletin.conf").write_text(shipped)
        temp = "\n".join(f"    {n}_temp_path {self.dir / 'tmp' / n};" for n in ("client_body", "proxy", "fastcgi",
                                                                                  "uwsgi", "scgi"))  # fmt: skip
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers as www-data could not enter the 0700 dirs
        (self.dir / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {self.dir / 'nginx.pid'};\nerror_log {self.dir / 'logs' / 'error.log'} warn;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n{temp}\n    include {self.dir / 'bulletin.conf'};\n}}\n"
        )
        cmd = [self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_port(self.port, 10)
        except TimeoutError:
            error = (self.dir / "logs" / "error.log").read_text()[-3000:]
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{error}") from None

    def log_lines(self) -> list[dict]:
        import json

        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        stop_group(self.proc, 10)
        shutil.rmtree(self.dir, ignore_errors=True)
