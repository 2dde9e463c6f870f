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
