"""CORS: any origin may read, nobody sends credentials, preflights are cached and never reach the store."""

from __future__ import annotations


def test_simple_get_from_any_origin(client):
    resp = client.get("/v1/articles?limit=1", headers={"Origin": "https://partner.example"})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Link", "Last-Modified", "Retry-After", "RateLimit-Remaining", "X-Request-Id"} <= exposed
    assert "Origin" in resp.headers["Vary"]
    # a conditional request from the browser still works cross-origin
    again = client.get(
        "/v1/articles?limit=1", headers={"Origin": "https://x.example", "If-None-Match": resp.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == "*"


def test_errors_carry_cors_too(client):
    resp = client.get("/v1/articles?bogus=1", headers={"Origin": "https://partner.example"})
    assert resp.status_code == 400 and resp.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight_is_cached_and_skips_the_store(app, client):
    def boom(*a, **k):
        raise AssertionError("preflight touched the store")

    app.extensions["store"].current = boom
    app.extensions["store"].session = boom
    resp = client.options(
        "/v1/articles/anything",
        headers={
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in resp.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in resp.headers["Access-Control-Allow-Headers"]
    assert int(resp.headers["Access-Control-Max-Age"]) >= 600
    # writes are not offered
    post = client.options(
        "/v1/articles", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Methods" not in post.headers


def test_plain_options_has_allow_and_cache_control(client):
    # Not a preflight (no Access-Control-Request-Method): Flask answers it; it must carry our headers too.
    resp = client.open("/v1/trends/unchanged/articles?limit=20", method="OPTIONS")
    assert resp.status_code == 200
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
