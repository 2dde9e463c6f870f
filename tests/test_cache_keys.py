"""One cache key (api.keys.cache_key) over validated arguments: requests share a cached answer exactly when their
validated arguments, path, language and base URL are equal, through the response cache, the hot path and the
per-generation values, on both backends."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.http import REPLAYABLE, parse_args
from api.keys import cache_key
from api.problems import BadRequest
from schemas.args import ArticleListArgs
from tests.conftest import make_app

AMBIGUOUS = "/v1/articles?q=sanctions%26sort%3Doldest&fields=title&limit=7"
PLAIN = "/v1/articles?q=sanctions&sort=oldest&fields=title&limit=7"


@pytest.fixture
def fresh(loaded, new_app):
    """Apps of the loaded store, with `extra` settings."""
    return lambda **extra: new_app(loaded, **extra)


def test_cache_key_encoded_separator_never_shares_an_answer(fresh):
    """`q=sanctions%26sort%3Doldest` is one search text, not two parameters: it must not answer (or blank) the
    search it resembles, neither from the response cache nor from the hot path."""
    reference = fresh(HOT_CACHE_MAX_BYTES=0).test_client().get(PLAIN)
    assert reference.status_code == 200 and reference.get_json()["meta"]["total"] > 0
    for hot in (0, 64 * 1024 * 1024):
        client = fresh(HOT_CACHE_MAX_BYTES=hot).test_client()
        ambiguous = client.get(AMBIGUOUS)
        assert ambiguous.status_code == 200 and ambiguous.get_json()["meta"]["total"] == 0
        for _ in range(2):  # the second time from the hot path, when it is on
            plain = client.get(PLAIN)
            assert plain.get_json() == reference.get_json()
            assert plain.headers["ETag"] == reference.headers["ETag"] != ambiguous.headers["ETag"]


def test_cache_key_same_validated_arguments_share_one_hot_entry(fresh):
    app = fresh()
    client = app.test_client()
    first = client.get("/v1/articles?limit=3&lang=en")
    hot = app.extensions["hot_path"]
    again = client.get("/v1/articles?lang=en&limit=3")  # other raw text, same arguments: one entry, one ETag
    assert again.headers["ETag"] == first.headers["ETag"] and again.get_data() == first.get_data()
    assert hot.stats()["entries"] == 1
    assert client.get("/v1/articles?lang=en&limit=3").get_data() == first.get_data()
    assert hot.hits == 1


def test_cache_key_encoding_is_unambiguous():
    pairs = [
        ({"q": "budget&section=economy"}, {"q": "budget", "section": ["economy"]}),
        ({"q": "2022-02-14"}, {"q": __import__("datetime").date(2022, 2, 14)}),
        ({"a": "1|b=2"}, {"a": "1", "b": "2"}),
        ({"limit": 5}, {"limit": "5"}),
        ({"section": ["a,b"]}, {"section": ["a", "b"]}),
    ]
    for one, other in pairs:
        assert cache_key("response", args=one) != cache_key("response", args=other)
    assert cache_key("response", path="/v1/a", args={}) != cache_key("response", path="/v1/", args={"a": ""})
    assert cache_key("response", args={"a": 1, "b": 2}) == cache_key("response", args={"b": 2, "a": 1})


WORDS = ["budget", "economy", "oldest", "sanctions", "5", "7", "title", "en", "ru"]
PIECES = st.one_of(st.sampled_from(WORDS), st.sampled_from(["&", "=", ",", "%26", "%3D", "%2C", "+", "%20"]))
NAMES = ["q", "section", "sort", "limit", "fields", "lang", "from", "cursor"]
QUERY = st.lists(
    st.tuples(st.sampled_from(NAMES), st.lists(PIECES, min_size=1, max_size=4).map("".join)), max_size=4
).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))
REQUEST = st.tuples(
    st.sampled_from(["/v1/articles", "/v1/sections/economy/articles"]),
    QUERY,
    st.sampled_from(["", "ru", "be;q=0.5, en"]),
    st.sampled_from(["a.example", "b.example:8080"]),
)


def _validated(app, path: str, query: str, accept_language: str, host: str):
    """(validated arguments, key the app used) of one request; None when it is a 400."""
    with app.test_request_context(f"{path}?{query}", base_url=f"http://{host}"):
        try:
            args = parse_args(ArticleListArgs())
        except BadRequest:
            return None
    response = app.test_client().get(
        f"{path}?{query}", base_url=f"http://{host}", headers={"Accept-Language": accept_language}
    )
    if response.status_code == 400 and "cursor" in args:  # well-formed text, but not a cursor this API issued
        return None
    assert response.status_code == 200, (path, query, response.get_data()[:200])
    language = args.get("lang") or response.headers["Content-Language"]
    return (path, args, language, host), app.seen_keys.pop()


@pytest.fixture(scope="module")
def keyed_app(loaded):
    """The app, recording the response-cache key of each 200 it answers (what the hot path is told)."""
    app = make_app(loaded, HOT_CACHE_MAX_BYTES=0)
    app.seen_keys, inner = [], app.wsgi_app

    def recording(environ, start_response):
        result = inner(environ, start_response)
        if REPLAYABLE in environ:
            app.seen_keys.append(environ[REPLAYABLE].key)
        return result

    app.wsgi_app = recording
    yield app
    app.extensions["store"].dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one=REQUEST, other=REQUEST)
def test_cache_key_shared_exactly_when_validated_inputs_are_equal(keyed_app, one, other):
    a, b = _validated(keyed_app, *one), _validated(keyed_app, *other)
    if a is None or b is None:
        return
    (inputs_a, key_a), (inputs_b, key_b) = a, b
    assert (key_a == key_b) == (inputs_a == inputs_b), (one, other)


def test_cache_key_property_sees_the_ambiguous_pair(keyed_app):
    """The generator above reaches the pair that used to share a key; here it is, checked directly."""
    a = _validated(keyed_app, "/v1/articles", "q=budget" + quote("&section=economy", safe=""), "", "a.example")
    b = _validated(keyed_app, "/v1/articles", "q=budget&section=economy", "", "a.example")
    assert a[0] != b[0] and a[1] != b[1]
