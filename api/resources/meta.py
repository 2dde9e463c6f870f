"""The API root (what lives where) and the health endpoints for load balancers."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from api.http import cached_endpoint
from api.store import queries
from api.store.db import StoreUnavailable
from schemas.args import ItemArgs
from schemas.output import RootSchema

bp = Blueprint("meta", __name__)


@bp.get("/v1")
@cached_endpoint(ItemArgs(), RootSchema)
def root(session, ctx):
    """The API root: links to every collection, the feeds and the documentation."""
    base = ctx.base
    return {
        "name": "Situation in Belarus — bulletin content API",
        "version": "1",
        "links": {
            "issues": f"{base}/v1/issues",
            "latest_issue": f"{base}/v1/issues/latest",
            "articles": f"{base}/v1/articles",
            "sections": f"{base}/v1/sections",
            "trends": f"{base}/v1/trends",
            "feed_atom": f"{base}/v1/feed.atom",
            "feed_rss": f"{base}/v1/feed.rss",
            "feed_json": f"{base}/v1/feed.json",
            "changes": f"{base}/v1/changes",
            "openapi": f"{base}/v1/openapi.json",
            "docs": f"{base}/docs",
        },
    }


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers (no store access)."""
    resp = jsonify(status="ok")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/readyz")
def readyz():
    """Readiness: the live store can be read; 503 otherwise, so a balancer takes this instance out."""
    store = current_app.extensions["store"]
    try:
        generation = store.current()
        with store.session(generation) as session:
            queries.ping(session)
    except StoreUnavailable as exc:
        resp = jsonify(status="unavailable", reason=str(exc))
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
    else:
        resp = jsonify(status="ready", generation=generation.id[:20], built_at=generation.built_at.isoformat())
    resp.headers["Cache-Control"] = "no-store"
    return resp
