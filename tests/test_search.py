"""Word search `q` on /v1/articles and the feeds, on both backends: every word must occur, nothing is an operator."""

from __future__ import annotations

import pytest

from tests.conftest import CANARIES, SEED_SLUG, walk


def _contains_all(client, summary: dict, words: list[str]) -> bool:
    article = client.get(f"/v1/articles/{summary['slug']}?format=text").get_json()["data"]
    text = " ".join((article["title"], article["lead"], article["body"]["text"])).casefold()
    return all(word.casefold() in text for word in words)


@pytest.mark.parametrize("q", ["military", "Military presence", "signals military", "sanctions", "Лукашенко"])
def test_search_finds_exactly_the_articles_containing_every_word(client, q):
    everything = walk(client, "/v1/articles?limit=100&format=text")
    expected = [a["slug"] for a in everything if _contains_all(client, a, q.split())]
    found = [a["slug"] for a in walk(client, f"/v1/articles?limit=2&format=text&q={q}")]
    assert found == expected  # same order (newest), each exactly once, across cursor pages
    if q.startswith("signals"):
        assert SEED_SLUG in found


def test_search_composes_with_filters(client):
    body = client.get("/v1/articles?q=military&section=security-issues&trend=worse&limit=100").get_json()
    assert body["data"], "the seed article matches"
    for article in body["data"]:
        assert article["section"]["slug"] == "security-issues" and article["trend"]["slug"] == "worse"
    assert body["meta"]["total"] == len(body["data"])


@pytest.mark.parametrize(
    "q", ['"military', "a AND b", "-x", "a:b", "*", "%", "_", "\\", "(", "NEAR(a b)", "'; DROP TABLE article; --"]
)
def test_operators_are_plain_text(client, q):
    response = client.get("/v1/articles", query_string={"q": q})
    assert response.status_code == 200
    body = response.get_json()
    assert all(_contains_all(client, a, q.split()) for a in walk(client, f"/v1/articles?format=text&limit=100&q={q}"))
    if q in ("%", "_", "\\", "*"):
        assert body["meta"]["total"] == 0  # wildcards are literal characters, which no sample article holds


def test_search_length_is_limited(client):
    assert client.get("/v1/articles", query_string={"q": "x" * 200}).status_code == 200
    response = client.get("/v1/articles", query_string={"q": "x" * 201})
    assert response.status_code == 400 and response.get_json()["invalid_params"][0]["name"] == "q"


@pytest.mark.parametrize("canary", CANARIES)
def test_hidden_articles_are_never_found(client, canary):
    for url in ("/v1/articles", "/v1/feed.atom", "/v1/feed.json"):
        response = client.get(url, query_string={"q": canary})
        assert response.status_code == 200
        text = response.get_data(as_text=True).replace(f"q={canary}", "q=")  # the echo of the client's own query
        assert canary.casefold() not in text.casefold()
    assert client.get("/v1/articles", query_string={"q": canary}).get_json()["meta"]["total"] == 0
