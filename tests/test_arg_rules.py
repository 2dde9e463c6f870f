"""The query-argument rules as properties (Hypothesis), on both backends, over one small generated archive:

- `from` after `to` is a 400 naming `from` on every endpoint taking both (equal or either alone is fine);
- `sort=relevance` needs `q` (a 400 naming `sort` without it);
- the parameters a client adds for itself (`_`, `utm_*`) are ignored: the same answer and ETag as without them;
  any other unknown name is a 400 naming it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.test_rules import MUTATION_TESTING, WEEKS, Doc, served

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    report_multiple_bugs=not MUTATION_TESTING,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
RANGED = ["/v1/articles", "/v1/issues", "/v1/trends/timeline", "/v1/feed.json", "/v1/sections/economy/articles"]
#: every parameter name some endpoint knows: a generated name must not be one
KNOWN = {"lang", "limit", "cursor", "page", "section", "trend", "issue", "from", "to", "updated_since", "q", "sort"}
KNOWN |= {"format", "fields", "include", "covers", "year"}
DATES = st.dates(dt.date(2023, 12, 25), dt.date(2026, 1, 12))


@pytest.fixture
def client(backend, tmp_path):
    docs = [Doc(0, week=WEEKS[3], section="economy"), Doc(1, week=WEEKS[4], section="economy", trend="worse")]
    with served(backend, tmp_path, docs) as client:
        yield client


def invalid(resp) -> dict[str, str]:
    """The invalid parameters a 400 names, with their reasons."""
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json", resp.status_code
    return {p["name"]: p["reason"] for p in resp.get_json()["invalid_params"]}


@PROPERTY
@given(path=st.sampled_from(RANGED), start=st.none() | DATES, stop=st.none() | DATES)
@example(path="/v1/articles", start=WEEKS[3], stop=WEEKS[3])
@example(path="/v1/issues", start=WEEKS[4], stop=WEEKS[3])
@example(path="/v1/trends/timeline", start=WEEKS[3], stop=None)
@example(path="/v1/feed.json", start=None, stop=WEEKS[3])
def test_from_after_to_is_refused(client, path, start, stop):
    query = "&".join(f"{k}={v.isoformat()}" for k, v in (("from", start), ("to", stop)) if v)
    resp = client.get(f"{path}?{query}")
    if start and stop and start > stop:
        assert invalid(resp) == {"from": "from must not be after to."}
    else:
        assert resp.status_code == 200, (path, query, resp.get_json())


@pytest.mark.parametrize("path", ["/v1/articles", "/v1/sections/economy/articles"])
def test_relevance_needs_a_search(client, path):
    assert invalid(client.get(f"{path}?sort=relevance")) == {"sort": "sort=relevance needs a search text q."}
    assert client.get(f"{path}?sort=relevance&q=quokka").status_code == 200
    assert client.get(f"{path}?sort=oldest").status_code == 200


NAMES = st.from_regex(r"[a-z_]{1,8}", fullmatch=True) | st.from_regex(r"utm_[a-z]{0,6}", fullmatch=True)


@PROPERTY
@given(name=NAMES, value=st.sampled_from(["", "1", "x"]), path=st.sampled_from(["/v1/articles", "/v1/issues"]))
@example(name="_", value="1733000000000", path="/v1/articles")
@example(name="utm_source", value="x", path="/v1/issues")
@example(name="utm", value="x", path="/v1/articles")
@example(name="__", value="1", path="/v1/articles")
@example(name="utm_", value="", path="/v1/articles")
def test_client_parameters_are_ignored_and_others_refused(client, name, value, path):
    if name in KNOWN:
        return
    plain = client.get(f"{path}?limit=1")
    tagged = client.get(f"{path}?limit=1&{name}={value}")
    if name == "_" or name.startswith("utm_"):
        assert tagged.status_code == 200 and tagged.data == plain.data
        assert tagged.headers["ETag"] == plain.headers["ETag"]
    else:
        assert invalid(tagged) == {name: "unknown parameter"}
