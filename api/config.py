"""One configuration object, read from the environment with safe defaults (every variable is in the table of docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings of one app instance; create_app(overrides) replaces any of them (tests do)."""

    def __init__(self) -> None:
        env = os.environ.get
        #: SQLAlchemy URL of the store: the SQLite file by default, postgresql+psycopg://… at scale.
        self.DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{ROOT / 'data' / 'store.sqlite'}"
        #: PostgreSQL schema that holds the live generation (the loader swaps it atomically).
        self.DATABASE_SCHEMA = env("DATABASE_SCHEMA", "bulletin")
        #: Redis URL for the response cache; unset means an in-process SimpleCache.
        self.CACHE_REDIS_URL = env("CACHE_REDIS_URL")
        # every key this deployment writes to Redis starts with it: two deployments on one Redis keep apart
        self.CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", "bulletin:")
        #: Directory of the editorial archive that `flask archive load` and `make run` read.
        self.ARCHIVE_PATH = env("ARCHIVE_PATH", str(ROOT / "data" / "archive"))
        #: Trend and section vocabulary table.
        self.VOCABULARY_PATH = env("VOCABULARY_PATH", str(ROOT / "data" / "vocabulary.yaml"))
        #: Cache-Control lifetimes (seconds) of every 200 response.
        self.CACHE_MAX_AGE = _int("CACHE_MAX_AGE", 60)
        self.CACHE_S_MAXAGE = _int("CACHE_S_MAXAGE", 300)
        self.CACHE_STALE_WHILE_REVALIDATE = _int("CACHE_STALE_WHILE_REVALIDATE", 60)
        self.CACHE_STALE_IF_ERROR = _int("CACHE_STALE_IF_ERROR", 86400)
        #: Seconds a response stays in the server-side cache (a reload invalidates it sooner, by generation).
        self.CACHE_DEFAULT_TIMEOUT = _int("CACHE_DEFAULT_TIMEOUT", 3600)
        #: Bytes of prepared responses each worker keeps for the hot path (api/hot.py); 0 turns it off.
        self.HOT_CACHE_MAX_BYTES = _int("HOT_CACHE_MAX_BYTES", 64 * 1024 * 1024)
        #: How often (seconds) a PostgreSQL-backed instance polls for a new store generation.
        self.GENERATION_CHECK_INTERVAL = float(env("GENERATION_CHECK_INTERVAL", "1.0"))
        #: Longest time one database query may run before the request gets a 503.
        self.QUERY_TIMEOUT_MS = _int("QUERY_TIMEOUT_MS", 3000)
        #: Public origin used in absolute links (feeds, canonical URLs); empty means the request's own (`make run`).
        #: Required behind a proxy (TRUSTED_PROXIES > 0) unless TRUST_FORWARDED_HOST is on.
        self.PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "").rstrip("/")
        #: Rate limiting (Flask-Limiter): off by default for the embedded set-up.
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", False)
        self.RATELIMIT_DEFAULT = env("RATELIMIT_DEFAULT", "300 per minute")
        self.RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
        #: Proxies in front of the app whose X-Forwarded-For/-Proto are trusted (1 behind deploy/nginx.conf).
        self.TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
        #: Also take the host of absolute links from those proxies' X-Forwarded-Host (off: PUBLIC_BASE_URL decides).
        self.TRUST_FORWARDED_HOST = _bool("TRUST_FORWARDED_HOST", False)
        #: Secret that keys ETags, cursors and change tokens; every instance serving the same clients needs the
        #: same one. Empty: the contents of SIGNING_SECRET_FILE (created with a random secret if missing).
        self.SIGNING_SECRET = env("SIGNING_SECRET", "")
        self.SIGNING_SECRET_FILE = env("SIGNING_SECRET_FILE", str(ROOT / "data" / "signing.key"))
        #: Rights and attribution text carried by every feed.
        self.FEED_RIGHTS = env("FEED_RIGHTS", "© Situation in Belarus bulletin. Republication with attribution.")
        self.FEED_ATTRIBUTION = env("FEED_ATTRIBUTION", "Situation in Belarus — weekly analytical bulletin")
        #: Log level of the app's own logger.
        self.LOG_LEVEL = env("LOG_LEVEL", "INFO")
        #: `json`: one JSON line per request and per load, errors with the request id; `text`: plain messages.
        self.LOG_FORMAT = env("LOG_FORMAT", "text").strip().lower()
        #: Prometheus metrics (docs/operations.md); under gunicorn every worker counts (PROMETHEUS_MULTIPROC_DIR).
        self.METRICS_ENABLED = _bool("METRICS_ENABLED", True)
        #: Addresses or networks (comma-separated) that may read /metrics; empty: nobody (the path is a 404).
        self.METRICS_ALLOW = env("METRICS_ALLOW", "127.0.0.1/32,::1/128")
        #: host:port where the gunicorn master serves /metrics apart from the API (deploy/gunicorn.conf.py); empty: off.
        self.METRICS_BIND = env("METRICS_BIND", "")
        #: Where `flask archive load` writes its report and /metrics reads the last load's figures; empty: nowhere.
        self.LOAD_REPORT_PATH = env("LOAD_REPORT_PATH", str(ROOT / "data" / "load-report.json"))

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
