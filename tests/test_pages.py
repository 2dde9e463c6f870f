"""/docs and / for people: served from the project under a strict CSP; / reads without JavaScript."""

from __future__ import annotations

import re

from tests.conftest import CANARIES


def _strict_csp(resp):
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert "frame-ancestors" in directives


def test_docs_page_uses_local_assets(client):
    resp = client.get("/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    _strict_csp(resp)
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and "http" not in re.sub(r'href="/v1/openapi.json"', "", html)
    for src in re.findall(r'(?:src|href|data-css|data-bundle)="(/assets/[^"]+)"', html):
        with client.get(src) as asset:
            assert asset.status_code == 200 and len(asset.data) > 100, src
    from api.assets import asset_url

    with client.get(asset_url("vendor/swagger-ui/LICENSE")) as lic:
        assert lic.status_code == 200 and b"Apache" in lic.data


def test_reader_shows_latest_issue_without_javascript(client):
    resp = client.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    _strict_csp(resp)
    assert resp.headers["ETag"]
    html = resp.get_data(as_text=True)
    assert "<script>" not in html  # only the external module
    latest = client.get("/v1/issues/latest").get_json()["data"]
    assert latest["title"] in html
    titles = [a["title"] for g in latest["sections"] for a in g["articles"]]
    assert titles and all(t.replace("'", "&#39;").replace('"', "&#34;") in html for t in titles)
    for canary in CANARIES:
        assert canary.lower() not in html.lower()
    assert client.get("/", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304


def test_reader_assets_served(client):
    html = client.get("/").get_data(as_text=True)
    found = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert len(found) == 3  # icon, style sheet, script
    for src in found:
        with client.get(src) as asset:
            assert asset.status_code == 200, src
