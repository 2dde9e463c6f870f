"""The application factory: config, extensions, the store, blueprints, errors and the CLI."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import errors, logs, metrics
from api.config import Config
from api.extensions import cache, new_limiter
from api.hot import HotPath
from api.http import Values
from api.problems import NotFound
from api.signing import Signer, load_secret
from api.store.db import Store


def create_app(overrides: dict | None = None) -> Flask:
    """Build an app from the environment's Config, with `overrides` (tests pass theirs)."""
    app = Flask(__name__, static_folder=None)  # api/assets.py serves api/static, fingerprinted
    app.config.update(Config().as_dict())
    app.config.update(overrides or {})
    app.json.sort_keys = False
    if app.config["LOG_FORMAT"] not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {app.config['LOG_FORMAT']!r}")
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])

    redis_url = app.config["CACHE_REDIS_URL"]
    cache_config = (
        {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": redis_url,
            # A frozen or unreachable Redis must cost milliseconds, not a stuck worker.
            "CACHE_OPTIONS": {"socket_timeout": 0.1, "socket_connect_timeout": 0.1},
            "CACHE_KEY_PREFIX": app.config["CACHE_KEY_PREFIX"],
        }
        if redis_url
        else {"CACHE_TYPE": "api.extensions.BoundedSimpleCache", "CACHE_THRESHOLD": 5000}
    )
    cache.init_app(app, config={**cache_config, "CACHE_DEFAULT_TIMEOUT": app.config["CACHE_DEFAULT_TIMEOUT"]})

    # Flask-Limiter reads RATELIMIT_ENABLED / _DEFAULT / _STORAGE_URI from the config. Storage down → fail open:
    # one warning, then per-process in-memory counting until the storage answers again (never an error, never
    # a log line per request); a frozen Redis costs a 0.1 s timeout, not a stuck worker.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis://", "rediss://")):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.1, "socket_connect_timeout": 0.1})
    limiter = new_limiter()
    limiter.init_app(app)

    app.extensions["signer"] = Signer(load_secret(app.config["SIGNING_SECRET"], app.config["SIGNING_SECRET_FILE"]))
    app.extensions["store"] = Store(
        app.config["DATABASE_URL"],
        schema=app.config["DATABASE_SCHEMA"],
        check_interval=app.config["GENERATION_CHECK_INTERVAL"],
        query_timeout_ms=app.config["QUERY_TIMEOUT_MS"],
    )
    app.extensions["values"] = Values()  # per-generation values last used, in front of the response cache

    from api.resources import articles, changes, feeds, issues, meta, sections, timeline, trends

    # timeline before trends: /v1/trends/timeline must never be taken for a trend slug.
    for module in (meta, issues, articles, sections, timeline, trends, feeds, changes):
        app.register_blueprint(module.bp)
    from api import assets, cors, media, openapi, pages  # docs, reader, assets, images, the spec of every route, CORS

    limiter.exempt(meta.healthz)  # load balancers probe from one address; a probe must never be refused
    limiter.exempt(meta.readyz)
    app.register_blueprint(pages.bp)
    app.register_blueprint(media.bp)  # like the assets, bytes under content-addressed URLs (not a JSON resource)
    assets.init_app(app)
    openapi.register(app)
    cors.init_app(app)
    errors.init_app(app)

    @app.before_request
    def _reject_control_characters_in_path():
        # A NUL or other control character can never be part of a slug or id; PostgreSQL would
        # refuse the string (DataError), which must not look like an outage (503).
        from flask import request

        if any(ord(ch) < 32 or ord(ch) == 127 for ch in request.path):
            raise NotFound("No such resource.")

    @app.before_request
    def _one_form_per_route():
        # One rule for trailing slashes on every route: the slashless path is the resource; the same path with
        # trailing slashes is a 308 to it (method and body kept), query string included. Only a path that names
        # a route is redirected (so `//host/` can never become a redirect off-site); anything else stays a 404.
        from flask import redirect, request
        from werkzeug.exceptions import HTTPException

        path = request.path
        if len(path) < 2 or not path.endswith("/"):
            return None
        target = path.rstrip("/")
        try:
            app.url_map.bind_to_environ(request.environ).match(target, method=request.method)
        except HTTPException:
            return None
        query = request.query_string.decode("latin-1")
        return redirect(target + (f"?{query}" if query else ""), 308)

    @app.after_request
    def _security_headers(resp):
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    if app.config["METRICS_ENABLED"] or app.config["LOG_FORMAT"] == "json":
        app.wsgi_app = metrics.count_statements(app.wsgi_app)  # statements per request, for metrics and logs

    # The hot path replays prepared responses before Flask; every request must reach the limiter when it is on.
    if app.config["HOT_CACHE_MAX_BYTES"] > 0 and not app.config["RATELIMIT_ENABLED"]:
        app.wsgi_app = app.extensions["hot_path"] = HotPath(
            app.wsgi_app,
            app.extensions["store"],
            max_bytes=app.config["HOT_CACHE_MAX_BYTES"],
            horizon=max(app.config["CACHE_MAX_AGE"], app.config["CACHE_S_MAXAGE"]),
        )

    # Request id, metrics and the JSON access line, for every request the hot path or Flask answers.
    app.wsgi_app = metrics.observe(app, app.wsgi_app, hot="hot_path" in app.extensions)

    # Behind N trusted proxies (deploy/nginx.conf is one), the client is the N-th address from the right of
    # X-Forwarded-For and the scheme comes from X-Forwarded-Proto: the limiter then counts per real client.
    # X-Forwarded-Host only when TRUST_FORWARDED_HOST says so: a proxy that passes a client's header on would
    # otherwise let that client choose the links every other client is served. Outermost, so the hot path keys
    # on the corrected environ too.
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        forwarded_host = app.config["TRUST_FORWARDED_HOST"]
        if not app.config["PUBLIC_BASE_URL"] and not forwarded_host:
            raise ValueError(
                "TRUSTED_PROXIES is set but PUBLIC_BASE_URL is not: behind a proxy, absolute links must come from "
                "PUBLIC_BASE_URL (or, if the proxy sets X-Forwarded-Host itself, TRUST_FORWARDED_HOST=1)"
            )
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops if forwarded_host else 0)

    from api.cli import archive_cli

    app.cli.add_command(archive_cli)
    return app
