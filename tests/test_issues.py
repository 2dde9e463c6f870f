"""Issues in every language: week titles as each edition prints them, counts that agree with the sections listed,
and an issue's own article list."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.weeks import week_title
from tests.conftest import walk

# (week start, language) -> the title as that edition of the bulletin prints the week
TITLES = [
    (dt.date(2022, 2, 14), "en", "February 14 – February 20, 2022"),
    (dt.date(2022, 2, 14), "ru", "14 – 20 февраля 2022"),
    (dt.date(2022, 2, 14), "be", "14 – 20 лютага 2022"),
    (dt.date(2023, 7, 31), "en", "July 31 – August 6, 2023"),
    (dt.date(2023, 7, 31), "ru", "31 июля – 6 августа 2023"),
    (dt.date(2023, 7, 31), "be", "31 ліпеня – 6 жніўня 2023"),
    (dt.date(2025, 12, 29), "en", "December 29, 2025 – January 4, 2026"),
    (dt.date(2025, 12, 29), "ru", "29 декабря 2025 – 4 января 2026"),
    (dt.date(2025, 12, 29), "be", "29 снежня 2025 – 4 студзеня 2026"),
    (dt.date(2022, 5, 2), "ru", "2 – 8 мая 2022"),
    (dt.date(2022, 8, 1), "be", "1 – 7 жніўня 2022"),
]


@pytest.mark.parametrize(("start", "lang", "title"), TITLES)
def test_week_titles_as_each_edition_prints_them(start, lang, title):
    assert week_title(start, lang) == (title, lang)


def test_an_unknown_language_falls_back_to_english():
    assert week_title(dt.date(2022, 2, 14), "de") == ("February 14 – February 20, 2022", "en")


EXPECTED = {"en": "February 14 – February 20, 2022", "ru": "14 – 20 февраля 2022", "be": "14 – 20 лютага 2022"}


@pytest.mark.parametrize("lang", sorted(EXPECTED))
def test_issue_titles_in_the_response_language_everywhere(client, lang):
    for headers, query in (({}, f"?lang={lang}"), ({"Accept-Language": lang}, "")):
        issue = client.get(f"/v1/issues/2022-02-14{query}", headers=headers).get_json()["data"]
        assert issue["title"] == EXPECTED[lang] and "fallback" not in issue
        page = client.get(f"/v1/issues?limit=50&{query[1:]}", headers=headers).get_json()["data"]
        listed = [i for i in page if i["id"] == "2022-02-14"]
        assert [i["title"] for i in listed] == [EXPECTED[lang]]
    timeline = client.get("/v1/trends/timeline", headers={"Accept-Language": lang}).get_json()["data"]
    assert {c["issue"]["title"] for c in timeline if c["issue"]["id"] == "2022-02-14"} == {EXPECTED[lang]}
    neighbour = client.get("/v1/issues/2022-02-07", headers={"Accept-Language": lang}).get_json()["data"]["next"]
    assert neighbour["title"] == EXPECTED[lang]


def _listed(issue: dict) -> list[dict]:
    return [a for group in issue["sections"] for a in group["articles"]]


@pytest.mark.parametrize("lang", [None, "en", "ru", "be"])
def test_an_issue_counts_the_articles_it_lists(client, lang):
    query = f"?lang={lang}" if lang else ""
    for issue in walk(client, "/v1/issues?limit=50"):
        item = client.get(f"/v1/issues/{issue['id']}{query}").get_json()["data"]
        listed = _listed(item)
        assert item["article_count"] == len(listed)
        assert all(a["lang"] == lang for a in listed) if lang else True
        assert item["languages"] == issue["languages"]  # the languages it has, whichever one is asked for
    for issue in walk(client, f"/v1/issues?limit=2{'&' + query[1:] if lang else ''}"):  # lists count the same way
        assert (
            issue["article_count"] == client.get(f"/v1/issues/{issue['id']}{query}").get_json()["data"]["article_count"]
        )
    latest = client.get(f"/v1/issues/latest{query}").get_json()["data"]
    assert latest["article_count"] == len(_listed(latest)) > 0


def test_the_latest_issue_in_a_language_is_the_newest_with_an_article_in_it(client):
    issues = walk(client, "/v1/issues?limit=50")
    for lang in ("en", "ru", "be"):
        newest = next(i for i in issues if lang in i["languages"])
        assert client.get(f"/v1/issues/latest?lang={lang}").get_json()["data"]["id"] == newest["id"]
    assert client.get("/v1/issues/latest").get_json()["data"]["id"] == issues[0]["id"]
    assert any("ru" not in i["languages"] for i in issues[:1])  # the sample's newest issue has no Russian article


def test_an_issues_articles_page_like_every_article_list(client):
    issue = client.get("/v1/issues/2022-02-14").get_json()["data"]
    walked = walk(client, "/v1/issues/2022-02-14/articles?limit=2")
    assert sorted(a["slug"] for a in walked) == sorted(a["slug"] for a in _listed(issue))
    assert len(walked) == issue["article_count"] > 2  # several pages
    first = client.get("/v1/issues/2022-W07/articles?limit=2")  # the ISO week names the same issue
    assert first.status_code == 200 and first.get_json()["meta"]["total"] == issue["article_count"]
    assert 'rel="next"' in first.headers["Link"]
    same = client.get("/v1/articles?issue=2022-02-14&limit=100").get_json()["data"]
    assert [a["slug"] for a in walk(client, "/v1/issues/2022-02-14/articles?limit=100")] == [a["slug"] for a in same]
    ru = client.get("/v1/issues/2022-02-14/articles?lang=ru").get_json()["data"]
    assert ru and {a["lang"] for a in ru} == {"ru"}
    economy = client.get("/v1/issues/2022-02-14/articles?section=economy").get_json()["data"]
    assert economy and {a["section"]["slug"] for a in economy} == {"economy"}
    other = client.get("/v1/issues/2022-02-14/articles?issue=2022-02-07").get_json()
    assert other["data"] == [] and other["meta"]["total"] == 0  # a filter naming another issue matches nothing
    assert client.get("/v1/issues/2022-02-14/articles?issue=2022-02-14").get_json()["meta"]["total"] == len(walked)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/issues/2022-02-15/articles", 404),  # not a Monday
        ("/v1/issues/2099-01-05/articles", 404),  # no such issue
        ("/v1/issues/2022-02-14/articles?limit=0", 400),
        ("/v1/issues/2022-02-14/articles?sort=sideways", 400),
        ("/v1/issues/2022-02-14/articles?bogus=1", 400),
    ],
)
def test_an_issues_articles_refuse_what_other_lists_refuse(client, path, status):
    resp = client.get(path)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
