"""Structured logs: request ids, one JSON line per request (LOG_FORMAT=json), the loader's report in the same shape.

Every log record written through the JSON handler carries the id of the request being served (a thread-local
set by the request wrapper in api/metrics.py), so an error line and the request's access line share it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import threading

import orjson

#: What an incoming X-Request-Id must look like to be kept (nginx's $request_id is 32 hex digits).
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

context = threading.local()  # .request_id of the request this thread serves, or None


def request_id(incoming: str | None, trusted: bool) -> str:
    """The id of this request: the proxy's when it is trusted and well formed, a fresh random one otherwise."""
    if trusted and incoming is not None and REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, the record's `fields`; a traceback
    only when the record carries one (server errors: client errors are never logged with one)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(context, "request_id", None)
        if rid is not None:
            line["request_id"] = rid
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(log_format: str, level: str | int = "INFO", stream=None) -> None:
    """Route the `api` loggers (access lines, errors, the loader) to one handler on stderr, JSON or plain text."""
    logger = logging.getLogger("api")
    logger.setLevel(level)
    for handler in [h for h in logger.handlers if getattr(h, "bulletin", False)]:
        logger.removeHandler(handler)
    if log_format != "json":
        logger.propagate = True
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.bulletin = True
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False


access_log = logging.getLogger("api.access")
loader_log = logging.getLogger("api.loader")


def access(fields: dict) -> None:
    access_log.info("request", extra={"fields": fields})


def load_report(report: dict) -> None:
    """The loader's report as one JSON line (same handler, same shape as the access lines)."""
    level = logging.INFO if report.get("ok") else logging.ERROR
    loader_log.log(level, "archive load", extra={"fields": report})
