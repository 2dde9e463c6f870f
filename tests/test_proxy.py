"""Through the shipped deploy/nginx.conf in front of gunicorn (both real, on loopback): nothing one client sends
(Host, X-Forwarded-Host, an encoded query string) changes what another client is served from any cache."""

from __future__ import annotations

import os

import orjson
import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, SEED_SLUG
from tests.live import Gunicorn, Nginx, get, nginx_binary

EVIL = "evil.example"
PUBLIC = "https://api.bulletin.example"
URLS = [
    "/v1",
    "/v1/issues?limit=3",
    "/v1/articles?limit=2",
    f"/v1/articles/{SEED_SLUG}",
    "/v1/issues/2022-02-14",
    "/v1/sections/economy",
    "/v1/sections/economy/articles?limit=2",
    "/v1/feed.atom",
    "/v1/feed.rss",
    "/v1/feed.json",
    "/",
    "/v1/changes?limit=2",
    "/v1/trends/timeline",
]
FORWARDED = {"X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "ftp", "X-Forwarded-For": "203.0.113.1"}
POISONS = [FORWARDED, {"Host": EVIL}, {"Host": EVIL, **FORWARDED}]


def require_nginx() -> None:
    if nginx_binary():
        return
    if os.environ.get("CI") or os.environ.get("REQUIRE_SERVICES"):
        pytest.fail("nginx is not installed (make test installs it)")
    pytest.skip("nginx is not installed")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("proxy") / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{path}")
    return f"sqlite:///{path}"


def _stack(env: dict):
    require_nginx()
    server = Gunicorn(env, workers=1)
    try:
        proxy = Nginx(server.port)
    except Exception:
        server.stop()
        raise
    return server, proxy


@pytest.fixture(scope="module")
def at_scale(store):
    """The at-scale set-up: TRUSTED_PROXIES=1 and PUBLIC_BASE_URL behind the shipped nginx config."""
    server, proxy = _stack({"DATABASE_URL": store, "TRUSTED_PROXIES": "1", "PUBLIC_BASE_URL": PUBLIC})
    yield proxy
    proxy.stop()
    server.stop()


@pytest.fixture(scope="module")
def request_host(store):
    """`make run`'s app (links from the request's own host) behind the shipped nginx config."""
    server, proxy = _stack({"DATABASE_URL": store})
    yield proxy
    proxy.stop()
    server.stop()


def _mentions(headers: dict, body: bytes, text: str) -> bool:
    return text.encode() in body or any(text in v for v in headers.values())


@pytest.fixture(scope="module")
def forwarded_host(store):
    """An app told to trust X-Forwarded-Host behind the shipped nginx config, which must never pass a client's."""
    server, proxy = _stack({"DATABASE_URL": store, "TRUSTED_PROXIES": "1", "TRUST_FORWARDED_HOST": "1"})
    yield proxy
    proxy.stop()
    server.stop()


@pytest.mark.parametrize("url", URLS)
def test_proxy_poisoned_host_never_reaches_another_client(at_scale, request_host, forwarded_host, url):
    for proxy in (at_scale, request_host, forwarded_host):
        for poison in POISONS:
            for _ in range(2):  # the second one may come from nginx's cache
                status, headers, body = get(proxy.port, url, headers=poison)
                assert status == 200, (url, status, body[:200])
        status, headers, body = get(proxy.port, url)
        assert status == 200, (url, status)
        assert not _mentions(headers, body, EVIL), (url, headers.get("x-cache-status"), headers.get("link"))
        assert not _mentions(headers, body, "ftp://"), url


@pytest.mark.parametrize("url", URLS)
def test_proxy_links_come_from_public_base_url(at_scale, url):
    for poison in POISONS:
        status, headers, body = get(at_scale.port, url, headers=poison)
        assert status == 200
        assert not _mentions(headers, body, EVIL) and not _mentions(headers, body, "127.0.0.1"), url
    if url.startswith("/v1/issues?"):
        assert orjson.loads(body)["links"]["first"].startswith(f"{PUBLIC}/v1/issues")


def test_proxy_encoded_separator_is_its_own_entry(at_scale):
    ambiguous = "/v1/articles?q=sanctions%26sort%3Doldest&fields=title&limit=7"
    plain = "/v1/articles?q=sanctions&sort=oldest&fields=title&limit=7"
    for _ in range(2):
        assert orjson.loads(get(at_scale.port, ambiguous)[2])["meta"]["total"] == 0
    status, headers, body = get(at_scale.port, plain)
    assert status == 200 and orjson.loads(body)["meta"]["total"] > 0


def test_proxy_settings_trusted_proxies_need_a_public_base_url(loaded):
    from tests.conftest import make_app

    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        make_app(loaded, TRUSTED_PROXIES=1, PUBLIC_BASE_URL="")
    app = make_app(loaded, TRUSTED_PROXIES=1, PUBLIC_BASE_URL=PUBLIC)
    resp = app.test_client().get("/v1/issues", headers=FORWARDED)
    assert resp.get_json()["links"]["first"].startswith(f"{PUBLIC}/v1/issues")
    app.extensions["store"].dispose()
    app = make_app(loaded, TRUSTED_PROXIES=1, TRUST_FORWARDED_HOST=True)
    resp = app.test_client().get("/v1/issues", headers={"X-Forwarded-Host": "api.partner.example"})
    assert resp.get_json()["links"]["first"].startswith("http://api.partner.example/v1/issues")
    app.extensions["store"].dispose()


def test_proxy_serves_renditions_immutable_and_keeps_hidden_ones_missing(at_scale):
    """Through the shipped nginx config: a rendition keeps its type, caching, validator and nosniff, is then served
    from nginx's cache, and a 304 answers its tag; a hidden article's image stays the 404 of a missing one."""
    from tests.test_leaks import _missing_media, hidden_media

    status, _, body = get(at_scale.port, "/v1/articles/belarus-budget-deficit-widens")
    assert status == 200
    image = orjson.loads(body)["data"]["image"]
    assert image["url"].startswith(f"{PUBLIC}/media/")
    for rendition in image["renditions"]:
        path = rendition["url"].removeprefix(PUBLIC)
        first, second = get(at_scale.port, path), get(at_scale.port, path)
        for status, headers, data in (first, second):
            assert status == 200 and headers["content-type"] == rendition["type"], path
            assert headers["cache-control"] == "public, max-age=31536000, immutable"
            assert headers["x-content-type-options"] == "nosniff" and headers["etag"] == first[1]["etag"]
            assert data == first[2] and int(headers["content-length"]) == len(data)
        assert second[1]["x-cache-status"] == "HIT", path
        status, headers, data = get(at_scale.port, path, headers={"If-None-Match": first[1]["etag"]})
        assert status == 304 and data == b"", path
    for name in hidden_media():
        missing = _missing_media(name)
        for _ in range(2):  # never cached: the second is no HIT either
            hidden, absent = get(at_scale.port, f"/media/{name}"), get(at_scale.port, f"/media/{missing}")
            assert hidden[0] == absent[0] == 404 and hidden[2] == absent[2]
            assert hidden[1]["content-type"] == "application/problem+json"
            assert hidden[1]["cache-control"] == "no-store" and hidden[1]["x-cache-status"] != "HIT"
