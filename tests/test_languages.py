"""Languages: Accept-Language negotiation, Content-Language and Vary, labels and translations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.languages import negotiate
from tests.conftest import SEED_SLUG

EN_TWIN, RU_TWIN = "belarus-budget-deficit-widens", "deficit-byudzheta-belarusi-rastet"
EN_BE, BE_TWIN = (
    "minsk-escalates-rhetoric-against-vilnius-and-warsaw",
    "minsk-uzmacniae-rytoryku-suprats-vilni-i-varshavy",
)

# (Accept-Language, negotiated language); the comments say where werkzeug's best_match (used before) got it wrong
NEGOTIATION = [
    (None, "en"),
    ("", "en"),
    ("ru", "ru"),
    ("be", "be"),
    ("BE", "be"),
    ("ru-RU", "ru"),
    ("ru-BY, en;q=0.5", "ru"),  # werkzeug answered en: it prefers any exact match
    ("ru;q=0.5, be;q=0.9", "be"),
    ("de, fr", "en"),  # nothing supported: the default
    ("uk, ru;q=0.5", "ru"),  # an unsupported first choice is skipped
    ("ru;q=0, en;q=0.1", "en"),
    ("ru;q=0", "en"),
    ("*", "en"),
    ("de, *;q=0.1", "en"),
    ("x;;q=abc", "en"),
    ("ru-be", "ru"),  # Russian as used in Belarus is Russian
    ("be-BY, ru;q=0.8", "be"),  # werkzeug answered ru: an exact match of a lower q beats the region
    ("ru;q=0.9, be-BY", "be"),
    ("en-GB;q=0.3, be;q=0.2", "en"),
    ("be-Latn-BY;q=0.9, ru;q=0.8", "be"),
    ("*, en;q=0", "ru"),  # * is any language not named; en is refused
]


@pytest.mark.parametrize(("header", "expected"), NEGOTIATION)
def test_negotiate_picks_the_preferred_supported_language(header, expected):
    assert negotiate(header) == expected


@given(st.text(max_size=200))
def test_negotiate_any_header_gives_a_supported_language(header):
    assert negotiate(header) in ("en", "ru", "be")


@pytest.mark.parametrize(("header", "expected"), NEGOTIATION)
def test_responses_carry_the_negotiated_language(client, header, expected):
    headers = {} if header is None else {"Accept-Language": header}
    for url in ("/v1/sections/economy", "/v1/trends/timeline?section=economy", f"/v1/articles/{EN_TWIN}"):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200
        assert resp.headers["Content-Language"] == expected, url


def test_lang_parameter_beats_accept_language_and_bad_lang_is_400(client):
    resp = client.get("/v1/sections/economy?lang=be", headers={"Accept-Language": "ru"})
    assert resp.headers["Content-Language"] == "be" and resp.get_json()["data"]["name"] == "Эканоміка"
    for lang in ("de", "RU", "ru-RU", ""):
        bad = client.get(f"/v1/sections/economy?lang={lang}")
        assert bad.status_code == 400 and [p["name"] for p in bad.get_json()["invalid_params"]] == ["lang"]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/articles",
        "/v1/sections",
        "/v1/trends",
        "/v1/trends/timeline",
        "/v1/issues/2022-02-14",
        f"/v1/articles/{EN_TWIN}",
    ],
)
def test_vary_accept_language_and_a_cache_entry_per_language(client, url):
    en = client.get(url)
    ru = client.get(url, headers={"Accept-Language": "ru"})
    assert "Accept-Language" in en.headers["Vary"] and "Accept-Language" in ru.headers["Vary"]
    assert (en.headers["Content-Language"], ru.headers["Content-Language"]) == ("en", "ru")
    assert en.headers["ETag"] != ru.headers["ETag"]
    # an ETag of one language does not revalidate the other
    assert client.get(url, headers={"Accept-Language": "ru", "If-None-Match": en.headers["ETag"]}).status_code == 200
    assert client.get(url, headers={"Accept-Language": "ru", "If-None-Match": ru.headers["ETag"]}).status_code == 304


LABELS = {
    "en": ("Economy", "The situation got worse"),
    "ru": ("Экономика", "Ситуация ухудшилась"),
    "be": ("Эканоміка", "Сітуацыя пагоршылася"),
}


@pytest.mark.parametrize("lang", sorted(LABELS))
def test_section_names_and_trend_labels_in_the_requested_language_everywhere(client, lang):
    name, label = LABELS[lang]
    for headers, q in (({}, f"lang={lang}"), ({"Accept-Language": lang}, "")):
        sep = "&" if q else ""
        article = client.get(f"/v1/articles/{EN_TWIN}?{q}", headers=headers).get_json()["data"]
        assert (article["section"]["name"], article["trend"]["label"]) == (name, label)
        # (on article lists and issues `lang` also filters the articles, so the lists ask through Accept-Language)
        negotiated = {"Accept-Language": lang}
        listed = client.get("/v1/sections/economy/articles?trend=worse", headers=negotiated).get_json()
        assert listed["data"] and {(a["section"]["name"], a["trend"]["label"]) for a in listed["data"]} == {
            (name, label)
        }
        included = client.get("/v1/articles?section=economy&include=section,trend", headers=negotiated).get_json()
        assert [s["name"] for s in included["included"]["section"]] == [name]
        assert label in {t["label"] for t in included["included"]["trend"]}
        assert client.get(f"/v1/sections/economy?{q}", headers=headers).get_json()["data"]["name"] == name
        assert client.get(f"/v1/trends/worse?{q}", headers=headers).get_json()["data"]["label"] == label
        sections = client.get(f"/v1/sections?limit=100{sep}{q}", headers=headers).get_json()["data"]
        assert next(s["name"] for s in sections if s["slug"] == "economy") == name
        trends = client.get(f"/v1/trends?limit=100{sep}{q}", headers=headers).get_json()["data"]
        assert next(t["label"] for t in trends if t["slug"] == "worse") == label
        issue = client.get("/v1/issues/2022-02-14", headers=negotiated).get_json()["data"]
        group = next(g for g in issue["sections"] if g["section"] and g["section"]["slug"] == "economy")
        assert group["section"]["name"] == name
        assert {a["trend"]["label"] for a in group["articles"]} == {label}
        cells = client.get(f"/v1/trends/timeline?section=economy{sep}{q}", headers=headers).get_json()["data"]
        assert cells and {c["section"]["name"] for c in cells} == {name}


def test_translations_map_language_to_slug_and_url(client):
    en = client.get(f"/v1/articles/{EN_TWIN}").get_json()["data"]
    assert en["translations"] == {
        "ru": {
            "slug": RU_TWIN,
            "title": "Дефицит бюджета растёт на фоне падения экспортной выручки",
            "url": f"http://localhost/v1/articles/{RU_TWIN}",
        }
    }
    ru = client.get(f"/v1/articles/{RU_TWIN}").get_json()["data"]
    assert list(ru["translations"]) == ["en"] and ru["translations"]["en"]["slug"] == EN_TWIN
    assert client.get(ru["translations"]["en"]["url"].replace("http://localhost", "")).status_code == 200
    # The Vilnius story exists in English and Belarusian only: no Russian entry, and no error.
    be_pair = client.get(f"/v1/articles/{EN_BE}?lang=ru").get_json()["data"]
    assert list(be_pair["translations"]) == ["be"] and be_pair["translations"]["be"]["slug"] == BE_TWIN
    # An article without a translation key has an empty map, in every language.
    for lang in ("en", "ru", "be"):
        assert client.get(f"/v1/articles/{SEED_SLUG}?lang={lang}").get_json()["data"]["translations"] == {}
