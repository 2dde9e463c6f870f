"""Every article filter alone, in pairs and all together, on both sort orders, walked by cursor, against an oracle.

The oracle is the unfiltered collection itself (every public article, fetched once) filtered in Python by the
documented rules: several values of one filter are OR, filters are AND, `from` / `to` select issue weeks that
end on or after `from` and start on or before `to` (inclusive), `updated_since` is inclusive. Each case walks
the filtered collection two items a page and must see exactly the oracle's articles, each once, in the sort's
order, with `meta.total` equal to the oracle's count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from urllib.parse import urlencode

import pytest

from tests.conftest import walk


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def everything(loaded):
    """All public articles of the sample archive, as the API lists them (one page of up to 100)."""
    from tests.conftest import make_app

    app = make_app(loaded)
    try:
        body = app.test_client().get("/v1/articles?limit=100").get_json()
    finally:
        app.extensions["store"].dispose()
    assert body["links"]["next"] is None and len(body["data"]) == body["meta"]["total"] > 10
    return body["data"]


def _filter_values(articles: list[dict]) -> dict[str, list[tuple[str, object]]]:
    """For each filter, a few (query value, oracle predicate) pairs taken from the data itself."""
    sections = sorted({a["section"]["slug"] for a in articles if a["section"]})
    trends = sorted({a["trend"]["slug"] for a in articles if a["trend"]})
    issues = sorted({a["issue"] for a in articles if a["issue"]})
    langs = sorted({a["lang"] for a in articles})
    updates = sorted({a["updated_at"] for a in articles})
    assert len(sections) >= 3 and len(trends) >= 2 and len(issues) >= 3 and len(langs) >= 2
    mid_issue = issues[len(issues) // 2]
    mid_day = _day(mid_issue) + dt.timedelta(days=3)  # a Thursday: the week containing it is selected
    since = updates[len(updates) // 2]

    def week_ends_on_or_after(day):
        return lambda a: a["issue"] is not None and _day(a["issue"]) + dt.timedelta(days=6) >= day

    def week_starts_on_or_before(day):
        return lambda a: a["issue"] is not None and _day(a["issue"]) <= day

    return {
        "section": [
            (sections[0], lambda a: a["section"] and a["section"]["slug"] == sections[0]),
            (f"{sections[1]},{sections[2]}", lambda a: a["section"] and a["section"]["slug"] in sections[1:3]),
        ],
        "trend": [
            (trends[0], lambda a: a["trend"] and a["trend"]["slug"] == trends[0]),
            (",".join(trends[:2]), lambda a: a["trend"] and a["trend"]["slug"] in trends[:2]),
        ],
        "issue": [
            (mid_issue, lambda a: a["issue"] == mid_issue),
            (f"{issues[0]},{issues[-1]}", lambda a: a["issue"] in (issues[0], issues[-1])),
        ],
        "lang": [(lang, lambda a, lang=lang: a["lang"] == lang) for lang in langs],
        "from": [(mid_day.isoformat(), week_ends_on_or_after(mid_day))],
        "to": [(mid_day.isoformat(), week_starts_on_or_before(mid_day))],
        "updated_since": [(since, lambda a: _when(a["updated_at"]) >= _when(since))],
    }


def _cases(articles):
    values = _filter_values(articles)
    names = sorted(values)
    cases = [{name: v} for name in names for v in values[name]]  # each filter alone, every value
    for a, b in itertools.combinations(names, 2):  # every pair of filters (first values)
        cases.append({a: values[a][0], b: values[b][0]})
    cases.append({name: values[name][-1] for name in names if name != "to"})  # all at once (but to)
    return cases


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_every_filter_alone_in_pairs_and_together_walks_exactly_the_oracle(client, everything, sort):
    checked = nonempty = 0
    for case in _cases(everything):
        query = {name: value for name, (value, _) in case.items()}
        expected = [a for a in everything if all(pred(a) for _, pred in case.values())]
        expected.sort(key=lambda a: (a["published_at"], a["slug"]), reverse=sort == "newest")
        url = "/v1/articles?" + urlencode({**query, "sort": sort, "limit": 2})
        first = client.get(url)
        assert first.status_code == 200, (url, first.get_json())
        assert first.get_json()["meta"]["total"] == len(expected), url
        seen = [a["slug"] for a in walk(client, url)]
        assert seen == [a["slug"] for a in expected], url
        checked += 1
        nonempty += bool(expected)
    # The matrix is not vacuous: most cases select something, and not everything.
    assert checked >= 30 and nonempty >= checked * 0.6


def test_filters_compose_on_section_and_trend_collections(client, everything):
    """The nested collections take the same filters, on top of their own."""
    section = next(a["section"]["slug"] for a in everything if a["section"])
    for lang in sorted({a["lang"] for a in everything}):
        expected = [
            a["slug"] for a in everything if a["section"] and a["section"]["slug"] == section and a["lang"] == lang
        ]
        got = [a["slug"] for a in walk(client, f"/v1/sections/{section}/articles?lang={lang}&limit=1")]
        assert got == expected
    trend = next(a["trend"]["slug"] for a in everything if a["trend"])
    expected = [
        a["slug"]
        for a in everything
        if a["trend"] and a["trend"]["slug"] == trend and a["section"] and a["section"]["slug"] == section
    ]
    got = [a["slug"] for a in walk(client, f"/v1/trends/{trend}/articles?section={section}&limit=1")]
    assert got == expected


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("from=2022-03-01&to=2022-02-01", "from"),
        ("updated_since=yesterday", "updated_since"),
        ("section=" + ",".join(["economy"] * 30), "section"),
        ("issue=2022-02-15", "issue"),
        ("lang=xx", "lang"),
        ("sort=relevance", "sort"),
    ],
)
def test_bad_filter_values_are_400_naming_the_parameter(client, query, param):
    resp = client.get(f"/v1/articles?{query}")
    assert resp.status_code == 400
    assert resp.content_type == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == 400 and [p["name"] for p in body["invalid_params"]] == [param]


def test_issue_filters_match_their_weeks(client):
    issues = walk(client, "/v1/issues?limit=2")
    assert len(issues) >= 3
    mid = issues[len(issues) // 2]
    thursday = (_day(mid["start"]) + dt.timedelta(days=3)).isoformat()
    covers = client.get(f"/v1/issues?covers={thursday}").get_json()["data"]
    assert [i["id"] for i in covers] == [mid["id"]]
    year = _day(mid["start"]).year
    # an issue belongs to the year it starts in (a week crossing New Year: tests/test_rules.py)
    assert {i["id"] for i in walk(client, f"/v1/issues?year={year}&limit=1")} == {
        i["id"] for i in issues if _day(i["start"]).year == year
    }
    later = [i["id"] for i in walk(client, f"/v1/issues?from={thursday}&limit=1")]
    assert later == [i["id"] for i in issues if _day(i["end"]) >= _day(thursday)]
    earlier = [i["id"] for i in walk(client, f"/v1/issues?to={thursday}&limit=1")]
    assert earlier == [i["id"] for i in issues if _day(i["start"]) <= _day(thursday)]


def _slugs(client, url: str) -> list[str]:
    return [a["slug"] for a in walk(client, url)]


def test_from_and_to_are_inclusive_dates_of_the_issue_week(client):
    week = set(_slugs(client, "/v1/articles?issue=2022-02-14&limit=100"))
    assert week
    for day in ("2022-02-14", "2022-02-17", "2022-02-20"):  # Monday, Thursday, Sunday of that week
        assert set(_slugs(client, f"/v1/articles?from={day}&to={day}&limit=100")) == week
    assert week.isdisjoint(_slugs(client, "/v1/articles?from=2022-02-21&limit=100"))  # the week ended on the 20th
    assert week.isdisjoint(_slugs(client, "/v1/articles?to=2022-02-13&limit=100"))  # it starts on the 14th


SAME_INSTANT = [  # 2022-02-22T14:30:00Z, the update time of the English budget-deficit article
    "2022-02-22T14:30:00Z",
    "2022-02-22t14:30:00z",
    "2022-02-22 14:30:00Z",
    "2022-02-22T15:30:00+01:00",
    "2022-02-22T10:00:00-04:30",
    "2022-02-22T14:30:00.000000000Z",
    "2022-02-22T14:30:00-00:00",
]


def test_updated_since_is_rfc_3339_with_offsets_and_inclusive(client):
    expected = _slugs(client, "/v1/articles?" + urlencode({"updated_since": SAME_INSTANT[0], "limit": 100}))
    assert "belarus-budget-deficit-widens" in expected
    for value in SAME_INSTANT:
        assert _slugs(client, "/v1/articles?" + urlencode({"updated_since": value, "limit": 100})) == expected, value
    # an offset's `+` sent unencoded decodes to a space: read as the offset it was meant to be
    assert _slugs(client, "/v1/articles?updated_since=2022-02-22T15:30:00+01:00&limit=100") == expected
    later = _slugs(client, "/v1/articles?" + urlencode({"updated_since": "2022-02-22T14:30:00.000001Z", "limit": 100}))
    assert later == [s for s in expected if s != "belarus-budget-deficit-widens"]


@pytest.mark.parametrize(
    "value",
    [
        "2022-02-22",
        "2022-02-22T14:30:00",  # no time zone
        "2022-02-22T14:30Z",
        "2022-02-30T14:30:00Z",
        "2022-02-22T24:30:00Z",
        "2022-02-22T14:30:60Z",
        "2022-02-22T14:30:00+0100",
        "2022-02-22T14:30:00+25:00",
        "2022-02-22T14:30:00.Z",
        "2022-02-22T14:30:00.1234567890Z",
        "1645540200",
        "2022-W08",
    ],
)
def test_updated_since_invalid_is_400(client, value):
    resp = client.get("/v1/articles?" + urlencode({"updated_since": value}))
    assert resp.status_code == 400
    assert [p["name"] for p in resp.get_json()["invalid_params"]] == ["updated_since"]


def test_issues_covers_finds_the_week_containing_the_date(client):
    for day in ("2022-02-14", "2022-02-16", "2022-02-20"):  # Monday, the issue's example, Sunday
        body = client.get(f"/v1/issues?covers={day}").get_json()
        assert [i["id"] for i in body["data"]] == ["2022-02-14"] and body["meta"]["total"] == 1
    assert client.get("/v1/issues?covers=2022-03-09").get_json()["data"] == []  # no public issue that week
    both = client.get("/v1/issues?covers=2022-02-16&year=2022&from=2022-02-01&to=2022-02-28").get_json()
    assert [i["id"] for i in both["data"]] == ["2022-02-14"]
    assert client.get("/v1/issues?covers=2022-02-16&year=2021").get_json()["data"] == []
    for bad in ("covers=2022-02-30", "covers=16.02.2022", "year=22", "from=2022-03-01&to=2022-02-01"):
        resp = client.get(f"/v1/issues?{bad}")
        assert resp.status_code == 400, bad
