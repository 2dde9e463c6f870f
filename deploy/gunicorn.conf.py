"""gunicorn settings for the API: sync workers (the hot path is a memory lookup), bounded requests."""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
# Bound request sizes below gunicorn's own 414 so the app answers an over-long query with its 400 first.
limit_request_line = 8190
limit_request_fields = 50
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # None: no access log on the hot path
errorlog = "-"
preload_app = False

# Prometheus multiprocess mode (api/metrics.py): every worker writes its samples under PROMETHEUS_MULTIPROC_DIR and
# any worker's /metrics sums them all. Set before the workers fork (the app is not preloaded), emptied when the
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


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_multiproc_dir:
        import shutil

        shutil.rmtree(_own_multiproc_dir, ignore_errors=True)
