"""Static assets: content-hashed URLs, precompressed bodies, a year of immutable caching, a favicon."""

from __future__ import annotations

import gzip
import hashlib
import re

import brotli
import pytest

from api.assets import IMMUTABLE, STATIC, Manifest, asset_url


def _page_assets(client, path: str) -> list[str]:
    html = client.get(path).get_data(as_text=True)
    return re.findall(r'(?:src|href|data-css|data-bundle)="(/assets/[^"]+)"', html)


@pytest.mark.parametrize("page", ["/", "/docs"])
def test_pages_link_fingerprinted_assets_cached_for_a_year(client, page):
    found = _page_assets(client, page)
    assert found and not re.search(r'"/static/', client.get(page).get_data(as_text=True))
    for url in found:
        name = re.sub(r"\.([0-9a-f]{10})(\.[a-z]+)$", r"\2", url.removeprefix("/assets/"))
        digest = re.search(r"\.([0-9a-f]{10})\.[a-z]+$", url).group(1)
        data = (STATIC / name).read_bytes()
        assert digest == hashlib.blake2b(data, digest_size=5).hexdigest()  # the URL names this very content
        with client.get(url, headers={"Accept-Encoding": "identity"}) as resp:
            assert resp.status_code == 200 and resp.data == data
            assert resp.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
            assert "Content-Encoding" not in resp.headers and "Accept-Encoding" in resp.headers["Vary"]
            etag = resp.headers["ETag"]
        with client.get(url, headers={"If-None-Match": etag}) as again:
            assert again.status_code == 304


@pytest.mark.parametrize(
    ("accept", "coding", "unpack"),
    [
        ("br, gzip", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip", "gzip", gzip.decompress),
    ],
)
def test_assets_are_served_precompressed(client, accept, coding, unpack):
    for name in ("vendor/swagger-ui/swagger-ui-bundle.js", "reader/reader.js", "reader/reader.css"):
        data = (STATIC / name).read_bytes()
        with client.get(asset_url(name), headers={"Accept-Encoding": accept}) as resp:
            assert resp.headers["Content-Encoding"] == coding
            assert unpack(resp.data) == data and len(resp.data) < len(data)
    with client.get(asset_url("vendor/swagger-ui/swagger-ui-bundle.js"), headers={"Accept-Encoding": "br"}) as big:
        assert len(big.data) < 450_000  # 1.7 MB as brotli


def test_a_changed_file_gets_a_new_url_and_the_old_one_is_gone(tmp_path):
    (tmp_path / "app.js").write_text("console.log(1)")
    first = Manifest(tmp_path).url("app.js")
    (tmp_path / "app.js").write_text("console.log(2)")
    fresh = Manifest(tmp_path)
    assert fresh.url("app.js") != first and re.fullmatch(r"/assets/app\.[0-9a-f]{10}\.js", first)
    assert fresh.by_hashed(first.removeprefix("/assets/")) is None


def test_unknown_or_stale_fingerprints_are_404(client):
    real = asset_url("reader/reader.js")
    for url in (
        "/assets/reader/reader.js",
        real.replace(real[-13:-3], "0" * 10),
        "/assets/../app.py",
        "/static/docs.js",
    ):
        resp = client.get(url)
        assert resp.status_code == 404, url


def test_a_favicon_where_browsers_look(client):
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    for page in ("/", "/docs"):
        assert any("favicon" in url for url in _page_assets(client, page))


def test_the_docs_page_is_light_and_lists_every_operation_without_script(client):
    """Swagger UI is not loaded by /docs itself: the operations are HTML from the server."""
    resp = client.get("/docs", headers={"Accept-Encoding": "br"})
    html = client.get("/docs").get_data(as_text=True)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts == [asset_url("docs.js")]  # the bundle is only a data-bundle attribute
    assert 'rel="stylesheet" href="' + asset_url("docs.css") in html
    spec = client.get("/v1/openapi.json").get_json()
    expected = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    listed = set(re.findall(r'class="op" data-method="([A-Z]+)" data-path="([^"]+)"', html))
    assert listed == expected
    assert len(resp.data) < 60_000
