"""gunicorn settings for the API: threaded workers that slow clients cannot starve, a preloaded app, bounded requests.

Slow clients: gthread workers park idle and kept-alive connections in a poller and give a thread to a connection
only once it has sent data; a client that drips its headers or body holds one thread, so each worker has far more
threads than the connections an attacker is expected to hold (GUNICORN_THREADS, 256 by default; threads start on
demand). In front of the public, nginx (deploy/nginx.conf) also times out slow clients and buffers requests.

Reload: the app is preloaded in the master, so a SIGHUP forks ready workers at once (a new worker no longer imports
the app while the old ones are already being stopped). Preloading also loads the signing secret once for every
worker. A code change needs a restart (or USR2), not a HUP.

Errors gunicorn answers itself, before the app (a request line over limit_request_line: 414, too many or too large
header fields: 431, a malformed request line: 400), are written as application/problem+json with no-store, like
every error of the app.
"""

import contextlib
import multiprocessing
import os

import orjson
from gunicorn.workers.gthread import ThreadWorker

workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", "256"))
worker_connections = 1000
timeout = 30
graceful_timeout = 10
keepalive = 5
# Bound request sizes below gunicorn's own 414 so the app answers an over-long query with its 400 first.
limit_request_line = 8190
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # None: no access log on the hot path
errorlog = "-"
preload_app = True

PROBLEM_TYPES = "https://bulletin.example/problems/"  # as api.errors (not imported: this file loads before the app)


class _Captured:
    """Stands in for the client socket while gunicorn writes its HTML error page, to learn status and reason."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data

    send = sendall


class ProblemThreadWorker(ThreadWorker):
    """gthread, with gunicorn's own error pages written as RFC 9457 problems (no-store) instead of HTML."""

    def handle_error(self, req, client, addr, exc):
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)  # logs as gunicorn does, writes its page to `captured`
        status_line = captured.data.split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = (status_line.split(" ", 2) + ["", ""])[:3]
        status = int(status) if status.isdigit() else 500
        body = orjson.dumps(
            {
                "type": PROBLEM_TYPES + reason.lower().replace(" ", "-"),
                "title": reason,
                "status": status,
                "detail": "The server refused the request before reading it (request line or header fields).",
            }
        )
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            client.setblocking(False)
            client.sendall(head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")
        finally:
            with contextlib.suppress(OSError):
                client.setblocking(True)


worker_class = ProblemThreadWorker


def post_fork(server, worker):
    """A preloaded app's pooled connections belong to the master: each worker opens its own."""
    app = worker.app.wsgi()
    store = getattr(app, "extensions", {}).get("store")
    if store is not None:
        store.after_fork()


# Prometheus multiprocess mode (api/metrics.py): every worker writes its samples under PROMETHEUS_MULTIPROC_DIR and
# any worker's /metrics sums them all. Set when this file loads, before the app is (pre)loaded, emptied when the
# master starts (stale files of an earlier run would be summed too); a dead worker's live gauges are dropped.
_own_multiproc_dir = None  # the directory made here, removed when gunicorn exits
_metrics_on = os.environ.get("METRICS_ENABLED", "1").strip().lower() in {"1", "true", "yes", "on"}
if _metrics_on and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_multiproc_dir = tempfile.mkdtemp(prefix="bulletin-metrics-")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def when_ready(server):
    """METRICS_BIND (host:port): the master also serves the instance's metrics there, apart from the API's port."""
    bind = os.environ.get("METRICS_BIND", "").strip()
    if not (_metrics_on and bind):
        return
    from api.metrics import serve_from_master

    host, _, port = bind.rpartition(":")
    serve_from_master(host.strip("[]") or "127.0.0.1", int(port))
    server.log.info("metrics on http://%s/metrics", bind)


def worker_exit(server, worker):
    """A worker's last request counts and latencies (tallied, flushed each second) reach its metrics file."""
    if _metrics_on:
        from api.metrics import flush

        flush()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_multiproc_dir:
        import shutil

        shutil.rmtree(_own_multiproc_dir, ignore_errors=True)
