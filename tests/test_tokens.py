"""Cursors and change tokens are opaque and authenticated: a MAC under the server secret, checked before anything
in them is read; the relevance cursor is a position, never a score; drafts and retracted articles are not in the
search index, so their words cannot move public scores."""

from __future__ import annotations

import base64
import datetime as dt
import re

import orjson
from sqlalchemy import text

from api.signing import Signer
from tests.conftest import walk


def _token(url: str, name: str = "cursor") -> str:
    return re.search(rf"{name}=([^&]+)", url)[1]


def _payload(token: str) -> dict | bytes:
    body = token.split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def test_tokens_relevance_cursor_carries_no_score(client):
    for q in ("military", "sanctions"):
        body = client.get(f"/v1/articles?q={q}&limit=1").get_json()
        for rel in ("next",):
            payload = _payload(_token(body["links"][rel]))
            assert set(payload) == {"o", "f", "v", "n"}, payload  # order, filters, content version, position
            assert payload["o"] == "relevance" and payload["n"] == 1
            assert not any(isinstance(v, float) for v in payload.values())
        second = client.get(body["links"]["next"].replace("http://localhost", "")).get_json()
        assert _payload(_token(second["links"]["prev"]))["n"] == 0


def test_tokens_relevance_walk_is_the_ranked_list(client):
    whole = client.get("/v1/articles?q=military&limit=100").get_json()
    assert [a["slug"] for a in walk(client, "/v1/articles?q=military&limit=2")] == [a["slug"] for a in whole["data"]]


def test_tokens_relevance_cursor_holds_for_its_content_version_only(client, frozen_clock):
    frozen_clock(dt.datetime(2098, 12, 31, tzinfo=dt.UTC))
    nxt = client.get("/v1/articles?q=military&limit=1").get_json()["links"]["next"].replace("http://localhost", "")
    assert client.get(nxt).status_code == 200
    frozen_clock(dt.datetime(2099, 1, 2, tzinfo=dt.UTC))  # an embargo has ended: other public content
    resp = client.get(nxt)
    assert resp.status_code == 400 and resp.get_json()["invalid_params"] == [
        {"name": "cursor", "reason": "expired cursor"}
    ]


def test_tokens_signed_with_another_secret_are_refused(loaded, client, app):
    from tests.conftest import make_app

    other = make_app(loaded, SIGNING_SECRET="someone-else")
    theirs = other.test_client()
    for url, name in (
        ("/v1/articles?limit=1", "cursor"),
        ("/v1/issues?limit=1", "cursor"),
        ("/v1/changes?limit=1", "since"),
    ):
        token = _token(theirs.get(url).get_json()["links"]["next"], name)
        resp = client.get(f"{url}&{name}={token}")
        assert resp.status_code == 400 and resp.get_json()["invalid_params"][0]["name"] == name, url
    other.extensions["store"].dispose()


def test_tokens_change_token_is_authenticated(client, app):
    nxt = client.get("/v1/changes?limit=1").get_json()["meta"]["next"]
    raw = _payload(nxt)
    assert isinstance(raw, bytes) and raw.startswith(b"v4:")
    unsigned = base64.urlsafe_b64encode(b"v2:0:a").decode().rstrip("=")  # the old, unsigned form
    assert client.get(f"/v1/changes?since={unsigned}").status_code == 400
    signer: Signer = app.extensions["signer"]
    # a signed token of the earlier form (position only) still continues where it was
    at, slug = raw.decode().split(":", 3)[1], raw.decode().split(":", 3)[3]
    earlier = client.get("/v1/changes?limit=1&since=" + signer.sign("changes", f"v3:{at}:{slug}".encode()))
    assert earlier.status_code == 200
    later = client.get(f"/v1/changes?limit=1&since={nxt}").get_json()["data"]
    assert earlier.get_json()["data"] == later
    forms = (b"v3:" + b"9" * 30 + b":a", b"v3:1e308:a", b"v3:-:a", b"v2:0:a", b"v3:0", b"v4:0:0", b"v4:0:a",
             b"v4:0:" + b"9" * 30 + b":a", b"v4:x:0:a", b"v4:0:-:a", b"v5:0:0:a")  # fmt: skip
    for forged in forms:
        resp = client.get("/v1/changes?since=" + signer.sign("changes", forged))
        assert resp.status_code == 400, forged


def test_tokens_search_index_holds_published_articles_only(app):
    store = app.extensions["store"]
    generation = store.current()
    with store.session(generation) as session:
        if session.get_bind().dialect.name == "sqlite":
            indexed = "SELECT a.status FROM article_fts f JOIN article a ON a.id = (f.rowid & 16777215)"
        else:
            indexed = "SELECT a.status FROM article_search s JOIN article a ON a.id = s.article_id"
        statuses = {row[0] for row in session.execute(text(indexed))}
        hidden = session.execute(text("SELECT count(*) FROM article WHERE status <> 'published'")).scalar()
    assert hidden > 0 and statuses == {"published"}
