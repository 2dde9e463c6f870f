"""URL conventions clients rely on: the parameters a client adds for itself are ignored (and never split the cache),
every other unknown one is a 400; one rule for trailing slashes on every route."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SEED_SLUG

EXAMPLES = {"slug": "economy", "issue_id": "2022-02-14"}
PER_PATH = {
    "/v1/articles/<slug>": SEED_SLUG,
    "/v1/articles/<slug>/related": SEED_SLUG,
    "/v1/trends/<slug>": "worse",
    "/v1/trends/<slug>/articles": "worse",
}


def _concrete(rule) -> str:
    """A path of `rule` that names an existing resource (the sample archive's)."""
    if "filename" in rule.arguments:
        from api.assets import asset_url

        return asset_url("reader/reader.js")
    if rule.rule in PER_PATH:
        return re.sub(r"<[^>]+>", PER_PATH[rule.rule], rule.rule)
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: EXAMPLES[m.group(1)], rule.rule)


def _routes(app) -> list[str]:
    return sorted({_concrete(r) for r in app.url_map.iter_rules() if "GET" in r.methods})


def test_every_route_has_one_form_and_its_trailing_slash_redirects_to_it(app, client):
    paths = _routes(app)
    assert {"/v1", "/v1/articles", "/v1/issues/2022-02-14/articles", "/docs", "/"} <= set(paths)
    for path in paths:
        plain = client.get(path)
        plain.close()  # a static file's stream
        assert plain.status_code == 200, path
        if path == "/":
            continue
        for variant, query in ((path + "/", ""), (path + "//", ""), (path + "/", "?lang=ru")):
            resp = client.get(variant + query)
            assert resp.status_code == 308, variant
            assert resp.headers["Location"] == path + query, variant
        assert not any(r.rule == path + "/" for r in app.url_map.iter_rules())  # one route, not two


def test_a_trailing_slash_on_no_route_stays_a_404(client):
    for path in ("/v1/nothing/", "/nothing/", "/v1/articles/a/b/"):
        resp = client.get(path)
        assert resp.status_code == 404 and "Location" not in resp.headers


CLIENT_PARAMS = ["utm_source=partner", "utm_medium=email&utm_campaign=spring", "_=1733000000000", "utm_content="]


@pytest.mark.parametrize("extra", CLIENT_PARAMS)
@pytest.mark.parametrize("path", ["/v1/articles?limit=2", "/v1/issues/latest", "/v1/feed.atom?section=economy", "/"])
def test_campaign_tags_and_cache_busters_are_ignored(client, path, extra):
    plain = client.get(path)
    joiner = "&" if "?" in path else "?"
    tagged = client.get(f"{path}{joiner}{extra}")
    assert tagged.status_code == plain.status_code == 200
    assert tagged.headers["ETag"] == plain.headers["ETag"]  # one cache entry: the key leaves them out
    assert tagged.data == plain.data  # links never carry them either
    assert b"utm_" not in tagged.data and b"_=17" not in tagged.data


@pytest.mark.parametrize("extra", ["utm=1", "__=1", "_x=1", "UTM_source=1", "source=partner", "cachebuster=1"])
def test_any_other_unknown_parameter_is_still_a_400(client, extra):
    resp = client.get(f"/v1/articles?{extra}")
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert [p["reason"] for p in resp.get_json()["invalid_params"]] == ["unknown parameter"]
