"""The layouts of the two real sites' captures, one fixture each (our own text, the sites' typography): parsed with
exact fields, then loaded through the real loader on both backends and served by the API.

Older site (old.…): canonical views beginning at their stamp, with `Category status:` and its verdict on the next
line, captions `Image from …`, author lines, `header -->`, the "similar articles" tail in Russian, `Recent trends`,
a breadcrumb line, issue views without the repeated title, the newsletter in its other wording, the `regions`,
`elections` and `economy-2` slugs; its sister projects on subdomains, the "about the monitoring" page with a stamp,
the home page naming the sister projects, an event of the expert club. Newer site: the title printed again after
the lead, a capture beginning at the lead, social chrome inside a body, captions with their description before
the credit, the Belarus-West and Belarus-Russia sections printed, the Belarusian paths `by/socyum-i-palityka` and
`be/gramadstva-i-partyi` (the latter over a Russian text),
unknown sections printed or in the URL, captures cut right after a closing quote or at the tool's size limit, a
listing page paged by query.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from api.ingest.captures import bulk_import_stamps, parse_capture, publication_time
from api.ingest.loader import load_archive
from api.ingest.records import ArticleRecord, Skip
from api.ingest.vocabulary import BulkImportRule, Vocabulary
from tests.conftest import drop_pg_schema, make_app, new_pg_schema

LAYOUTS = Path(__file__).resolve().parent / "fixtures" / "layouts"
NEW = "https://situation.example.org"
OLD = "http://old.situation-belarus.example.net"


def para(text: str) -> dict:
    return {"type": "paragraph", "text": text}


def items(*texts: str) -> dict:
    return {"type": "list", "ordered": False, "items": list(texts)}


NEWSLETTER_TEXT = ("successfully subscribed", "newsletter", "Once a week", "commentaries are available", "View all")

EXPECTED: dict[str, dict] = {
    "pro_title_after_lead.txt": dict(
        week_start=dt.date(2024, 3, 4),
        section="society-and-politics",
        trend="better",
        title="Volunteer networks outgrow the diaspora councils",
        lead="Volunteer initiatives abroad now raise more money for political prisoners than the diaspora councils "
        "that were meant to coordinate them. Their donors are younger and expect reports every month.",
        blocks=[
            para(
                "Three fundraising platforms published their first audited accounts, showing a steady flow of small "
                "monthly donations."
            ),
            para(
                "The councils, by contrast, still depend on a handful of large donors and struggle to hold elections "
                "of their own."
            ),
        ],
        lang="en",
        truncated=False,
        image_caption=None,
    ),
    "pro_begins_at_lead_ru.txt": dict(
        week_start=None,
        section="belarus-west-relations",
        trend=None,
        title="Itogi goda sanktsii bez proryva",  # no title line: named after the URL
        lead="Отношения Минска с Западом за год не сдвинулись с мёртвой точки: санкции расширялись, а сигналы о "
        "готовности к диалогу оставались без ответа. Режим рассчитывает, что переговоры о войне в Украине вернут "
        "ему собеседников.",
        blocks=[
            para(
                "Евросоюз распространил на Беларусь ограничения трёх последних пакетов против России, чтобы закрыть "
                "пути обхода санкций."
            ),
            para("Литва и Польша добивались более жёстких мер, в том числе закрытия границы для грузовиков."),
        ],
        lang="ru",
        truncated=False,
    ),
    "pro_body_only_social.txt": dict(
        week_start=None,
        section="ruling-elite",
        title="Ministers reshuffled before the budget session",
        lead="Lukashenka replaced the ministers of finance and of the economy two weeks before the budget is to be "
        "presented to parliament.",
        blocks=[
            para(
                "Both newcomers come from state banks, which are expected to lend even more to loss-making "
                "enterprises next year."
            ),
            para(
                "The reshuffle follows the familiar pattern: officials are blamed for the results of a policy that "
                "does not change."
            ),
        ],  # "Follow us on Twitter" between them is chrome
        truncated=False,
        published=None,  # no week, no stamp: the Fetched time is no publication time
    ),
    "pro_caption_described_be.txt": dict(
        week_start=dt.date(2024, 3, 11),
        section="society-and-politics",  # printed in Belarusian
        trend="unchanged",  # "Сітуацыя не змянілася"
        title="Канферэнцыя ў Вільні аб’яднала ініцыятывы дыяспары",
        lead="Больш за дзвесце прадстаўнікоў ініцыятыў сабраліся ў Вільні, каб дамовіцца пра агульныя правілы збору "
        "сродкаў.",
        blocks=[
            para("Удзельнікі пагадзіліся:"),
            items(
                "публікаваць справаздачы кожны квартал;",
                "не падтрымліваць кампаніі, якія не раскрываюць сваіх заснавальнікаў.",
            ),
            para("Пагадненне не стварае новай структуры, але робіць вынікі працы ініцыятыў параўнальнымі."),
        ],
        lang="be",
        image_caption="Удзельнікі канферэнцыі ў Вільні 12 сакавіка 2024 года. Фота: situation.example.org",
        image_credit="situation.example.org",
        authors=[],
        truncated=False,
    ),
    "pro_caption_slash_ru.txt": dict(
        week_start=dt.date(2024, 1, 22),
        section="belarus-russia-relations",  # printed "Белорусско-российские отношения"
        trend="worse",
        title="Союзные программы выполнены на бумаге",
        lead="Минск отчитался о выполнении почти всех союзных программ, хотя ключевые решения по налогам и энергетике "
        "по-прежнему не приняты.",
        image_caption="Александр Лукашенко и Владимир Путин в Сочи / Фото …",
        image_credit="…",
        lang="ru",
        truncated=True,  # cut mid-word
    ),
    "pro_section_west_en.txt": dict(
        week_start=dt.date(2024, 1, 1),
        section="belarus-west-relations",  # printed "Belarus-West relations"
        trend="worse",
        title="Brussels keeps the door closed",
        image_caption="карикатура: Deutsche Welle",
        image_credit="Deutsche Welle",
        lang="en",
        truncated=False,
    ),
    "pro_by_path_be.txt": dict(
        section="society-and-politics",  # from the Belarusian path by/socyum-i-palityka
        title="Прафсаюзы захавалі толькі назву",
        lang="be",
        truncated=False,
        published=None,
    ),
    "pro_be_path_ru_text.txt": dict(
        week_start=None,
        section="society-and-politics",  # the Belarusian path be/gramadstva-i-partyi, whatever the text's language
        trend=None,
        title="Диаспора собирает средства на адвокатов, партии проводят онлайн-собрания",
        lead="Инициативы за рубежом оплачивают юридическую помощь семьям политзаключённых. Партии переносят собрания "
        "в онлайн и готовят новых координаторов.",
        blocks=[
            para(
                "Сторонники перемен всё реже выходят на акции, но чаще участвуют в сборах. Демократические силы "
                "пытаются договориться о едином подходе к предстоящей кампании."
            ),
            para("Координаторы надеются, что новые площадки помогут удержать внимание аудитории и вернуть интерес к"),
        ],
        lang="ru",  # a Russian text under the Belarusian path
        truncated=True,  # stops mid-sentence, no closing chrome
        published=None,
    ),
    "pro_unknown_section_printed.txt": dict(
        week_start=dt.date(2023, 3, 27),
        section="weather-and-climate",  # printed "Weather and climate": a provisional section, never a reject
        trend="worse",
        title="Spring floods in Polesie",
    ),
    "pro_unknown_slug_ru.txt": dict(
        section="ekologiya",  # an unknown URL slug: a provisional section named after it
        title="Реки Полесья мелеют",
        lang="ru",
    ),
    "pro_cut_after_quote.txt": dict(
        week_start=dt.date(2023, 10, 2),
        section="security-issues",
        trend="worse",
        blocks=[
            para(
                "Asked whether the training would be extended, the minister said he would “return to the issue later.”"
            )
        ],
        truncated=True,  # `…later.” ` and the file ends: the paragraph went on
    ),
    "pro_cut_after_guillemet_ru.txt": dict(
        title="Чиновникам запретили выезд за границу",
        blocks=[para("Официально мера объясняется заботой о «безопасности государственных служащих».")],
        lang="ru",
        truncated=True,
    ),
    "pro_cut_at_limit.txt": dict(
        week_start=dt.date(2023, 9, 11),
        section="ruling-elite",
        trend="unchanged",
        title="Regional governors answer for the harvest",
        truncated=True,  # 2000 bytes of text, no closing chrome: the tool's size limit cut it after a sentence
    ),
    "info_begins_at_stamp.txt": dict(
        line=6,
        week_start=dt.date(2017, 2, 27),  # a Monday stamp: the week before
        week_source="timestamp",
        timestamp=dt.datetime(2017, 3, 6, 10, 5, tzinfo=dt.UTC),
        section="economy",
        trend=None,
        title="State enterprises allowed to delay wages",  # no title line: named after the URL
        lead="The government has allowed loss-making state enterprises to delay the payment of wages by up to two "
        "weeks.",
        blocks=[
            para(
                "The measure legalises a practice that has been widespread in the regions since the autumn, when "
                "arrears first appeared at machine-building plants."
            )
        ],  # "Similar articles" and on: dropped
        truncated=False,
        published=dt.datetime(2017, 3, 6, 10, 5, tzinfo=dt.UTC),
    ),
    "info_category_verdict.txt": dict(
        week_start=None,
        section="society-and-politics",
        trend="better",  # "Category status:" then "- (The situation has improved)"
        title="Strike committees grow in number as the authorities hesitate",
        lead="Strike committees have been formed at eleven more state enterprises, mostly in the regional centres.",
        image_caption="Image from https://twitter.example.org/strike_committee",
        image_credit="https://twitter.example.org/strike_committee",
        authors=["Anna Kowalska"],
        truncated=False,
        published=None,
    ),
    "info_header_similar_ru.txt": dict(
        week_start=dt.date(2017, 4, 10),  # a Wednesday stamp falls in its own week
        section="international-relations",
        title="Минск и Варшава возобновили консультации",
        image_caption="Фото: БелТА",
        image_credit="БелТА",
        blocks=[para("Стороны договорились восстановить рабочую группу, но обошли в коммюнике вопросы прав человека.")],
        lang="ru",
        truncated=False,
    ),
    "info_recent_trends.txt": dict(
        week_start=dt.date(2014, 12, 1),
        section="economy",  # the slug economy-2
        blocks=[
            para(
                "The National Bank sold foreign currency to hold the rouble before the end of the year, and is "
                "likely to keep doing so."
            )
        ],
        truncated=False,  # "Recent trends" closes the article: the sidebar's titles after it are not body
    ),
    "info_regions_issue_view.txt": dict(
        week_start=dt.date(2019, 9, 30),
        section="regions",
        trend="unchanged",
        title="District councils lose their budgets",
        image_caption="Photo by the Grodno regional executive committee",  # "<label> by <credit>"
        image_credit="the Grodno regional executive committee",
        blocks=[para("Local councils will keep the right to approve the budget but not to change it.")],
        truncated=False,
    ),
    "info_elections_issue_view_ru.txt": dict(
        week_start=dt.date(2019, 9, 2),  # "2 – 8 сентября 2019"
        section="elections",
        trend="unchanged",  # no title printed again under the verdict
        title="Избиркомы снова сформированы без оппозиции",
        lead="Из почти двух тысяч выдвиженцев оппозиционных партий в участковые комиссии включены менее двадцати "
        "человек.",
        blocks=[],
        lang="ru",
        truncated=False,
    ),
    "info_breadcrumb_article.txt": dict(
        section="economy",
        title="Potash exports rerouted through Russian ports",  # the breadcrumb above it is navigation
        trend=None,
        lead="Belaruskali has shipped its first consignments through Ust-Luga after Lithuania stopped the transit.",
        truncated=False,
    ),
}

SKIPPED = {
    "info_sister_competition.txt": "sister project page",  # a competition on a subdomain, at its root
    "info_sister_forjournalists.txt": "sister project page",  # the guide for journalists, with a breadcrumb
    "info_about_monitoring.txt": "static page",  # stamped, yet no article
    "info_home_our_projects.txt": "home page",  # names the sister projects: still the home page
    "info_club_event_ru.txt": "event announcement",
    "pro_listing_paged.txt": "section listing page",  # titles only, paged by ?paged=
}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load()


def parse(name: str, vocab: Vocabulary):
    return parse_capture(name, (LAYOUTS / name).read_text(encoding="utf-8"), vocab)


def test_every_fixture_is_covered():
    assert sorted(p.name for p in LAYOUTS.glob("*.txt")) == sorted([*EXPECTED, *SKIPPED])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_parses_with_exact_fields(name, vocab):
    rec = parse(name, vocab)
    assert isinstance(rec, ArticleRecord), rec
    expected = dict(EXPECTED[name])
    published = expected.pop("published", "unchecked")
    assert {key: getattr(rec, key) for key in expected} == expected
    text = "\n".join([rec.title, rec.lead, *(b.get("text", "") for b in rec.blocks)])
    for chrome in (*NEWSLETTER_TEXT, "Follow us on Twitter", "Recent trends", "Similar articles", "Похожие статьи",
                   "header -->", "Main page »", "Category status", "(The situation"):  # fmt: skip
        assert chrome not in text, (name, chrome)
    assert [b for b in rec.blocks if b.get("text") == rec.title] == []  # the title printed again is not body
    if published != "unchecked":
        assert publication_time(rec) == published
        assert rec.fetched_at is not None  # every fixture has a Fetched time, which is never the publication


@pytest.mark.parametrize(("name", "reason"), sorted(SKIPPED.items()))
def test_non_article_is_skipped_for_its_reason(name, reason, vocab):
    assert parse(name, vocab) == Skip(name, reason)


def test_a_url_slug_spelling_a_cyrillic_section_name_finds_its_section(vocab):
    from api.ingest.text import slugify

    for section in vocab.sections:
        for lang in ("ru", "be"):
            assert vocab.section(slugify(section.names[lang])) == section.slug, (section.slug, lang)
    assert vocab.section("pravyashchaya-elita") == "ruling-elite" and vocab.section("ekanomika") == "economy"


def test_provisional_sections_are_named_as_printed(vocab):
    parse("pro_unknown_section_printed.txt", vocab)
    parse("pro_unknown_slug_ru.txt", vocab)
    sections = {s.slug: s for s in vocab.sections}
    assert sections["weather-and-climate"].names == dict.fromkeys(("en", "ru", "be"), "Weather and climate")
    assert sections["ekologiya"].names["en"] == "Ekologiya" and sections["ekologiya"].provisional
    assert {"weather-and-climate", "ekologiya"} <= set(vocab.provisional)
    assert not sections["economy"].provisional


# ---------------------------------------------------------------- bulk imports, judged by density


def _stamps(start: dt.datetime, count: int, step_minutes: int) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=step_minutes * i) for i in range(count)]


def test_a_burst_of_stamps_far_denser_than_any_week_is_an_import():
    weekly = [dt.datetime(2017, 1, 2, 10) + dt.timedelta(weeks=w, minutes=5 * k) for w in range(20) for k in range(4)]
    burst = _stamps(dt.datetime(2016, 4, 22, 17, 47), 40, 3)  # forty stamps in two hours
    found = bulk_import_stamps(weekly + burst)
    assert found == sorted({s.strftime("%Y-%m-%d %H:%M") for s in burst})


def test_a_full_issue_published_at_once_is_no_import():
    # Eight articles of one issue stamped within minutes, in an archive of one or two stamps a week.
    issue = _stamps(dt.datetime(2017, 3, 20, 9, 30), 8, 2)
    sparse = [dt.datetime(2017, 1, 3, 10) + dt.timedelta(weeks=w) for w in range(30)]
    assert bulk_import_stamps(issue + sparse) == []


def test_an_import_must_also_be_denser_than_a_typical_week():
    # Every week publishes ten articles within two hours: a burst of twelve is an ordinary week, not an import.
    busy = [dt.datetime(2018, 1, 1, 9) + dt.timedelta(weeks=w, minutes=10 * k) for w in range(10) for k in range(10)]
    burst = _stamps(dt.datetime(2018, 6, 1, 15), 12, 5)
    assert bulk_import_stamps(busy + burst, BulkImportRule(issue_capacity=8, density_factor=3)) == []
    assert len(bulk_import_stamps(busy + _stamps(dt.datetime(2018, 6, 1, 15), 40, 2))) == 40


def test_a_bulk_stamp_gives_no_publication_time(vocab):
    rec = parse("info_begins_at_stamp.txt", vocab)
    assert publication_time(rec, bulk=True) is None
    assert publication_time(rec) == rec.timestamp


# ---------------------------------------------------------------- the whole directory through the loader and the API


@pytest.fixture(scope="module")
def layouts_loaded(backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("layouts-store")
    settings = dict(backend)
    if settings["DATABASE_URL"].startswith("sqlite"):
        settings["DATABASE_URL"] = f"sqlite:///{directory / 'store.sqlite'}"
    else:
        settings["DATABASE_SCHEMA"] = new_pg_schema()
    report = load_archive(LAYOUTS, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"])  # strict
    app = make_app(settings)
    yield {"report": report, "client": app.test_client()}
    app.extensions["store"].dispose()
    if not settings["DATABASE_URL"].startswith("sqlite"):
        drop_pg_schema(settings["DATABASE_SCHEMA"])


def _served(client, slug: str) -> dict:
    resp = client.get(f"/v1/articles/{slug}?format=blocks")
    assert resp.status_code == 200, (slug, resp.get_json())
    return resp.get_json()["data"]


def test_layouts_load_strictly_and_the_report_names_what_is_new(layouts_loaded):
    report = layouts_loaded["report"]
    assert report.rejected == [] and report.swapped
    assert report.articles_loaded == len(EXPECTED)
    assert {reason: sorted(paths) for reason, paths in report.skipped.items()} == {
        reason: sorted(f"layouts/{n}" for n, r in SKIPPED.items() if r == reason) for reason in set(SKIPPED.values())
    }
    assert sorted(report.new_sections) == ["ekologiya", "weather-and-climate"]
    assert report.bulk_import_stamps == [] and report.bulk_imported == []
    assert sorted(report.truncated) == [
        "chinovnikam-zapretili-vyezd", "diaspora-sobiraet-sredstva-na-advokatov",
        "regional-governors-answer-for-the-harvest",
        "reservists-called-up-for-a-second-time", "soyuznye-programmy-vypolneny-na-bumage",
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layouts_are_served_with_their_fields(name, layouts_loaded, vocab):
    rec = parse(name, vocab)
    data = _served(layouts_loaded["client"], rec.slug)
    exp = EXPECTED[name]
    assert data["title"] == rec.title and data["lead"] == rec.lead and data["lang"] == rec.lang
    assert data["issue"] == (rec.week_start.isoformat() if rec.week_start else None)
    assert (data["section"] or {}).get("slug") == exp.get("section", rec.section)
    assert (data["trend"] or {}).get("slug") == rec.trend
    assert data["truncated"] == rec.truncated and data["body"]["blocks"] == rec.blocks
    if "published" in exp:
        published = exp["published"]
        assert data["published_at"] == (published.isoformat() if published else None)
    if rec.week_start is None and rec.timestamp is None:
        assert data["published_at"] is None and data["updated_at"] is None  # never the Fetched time


def test_provisional_sections_are_served_and_undated_articles_sort_last(layouts_loaded):
    client = layouts_loaded["client"]
    sections = {s["slug"]: s for s in client.get("/v1/sections").get_json()["data"]}
    assert sections["weather-and-climate"]["name"] == "Weather and climate"
    assert {"belarus-west-relations", "belarus-russia-relations", "regions", "elections"} <= set(sections)
    newest = [a["published_at"] for a in client.get("/v1/articles?limit=100&sort=newest").get_json()["data"]]
    dated = [p for p in newest if p]
    assert newest == dated + [None] * (len(newest) - len(dated)) and dated == sorted(dated, reverse=True)
    for kind in ("feed.atom", "feed.json", "feed.rss"):
        assert client.get(f"/v1/{kind}?limit=100").status_code == 200
    feed = client.get("/v1/feed.json?limit=100").get_json()
    undated = [i for i in feed["items"] if "date_published" not in i]
    assert undated and all("date_modified" not in i for i in undated)


# ---------------------------------------------------------------- the measurement tool for real pages


def test_real_pages_bench_scores_labelled_captures_and_names_failures(tmp_path, capsys):
    from bench import real_pages

    site = tmp_path / "pages" / "pro"
    site.mkdir(parents=True)
    labels = {}
    for n, name in enumerate(("pro_title_after_lead.txt", "pro_body_only_social.txt", "pro_listing_paged.txt"), 1):
        text = (LAYOUTS / name).read_text(encoding="utf-8")
        (site / f"{n:03d}.txt").write_text(text, encoding="utf-8")
        url = text.split("\n", 1)[0].removeprefix("URL: ")
        if name in SKIPPED:
            labels[f"pro/{n:03d}.txt"] = {"url": url, "kind": "skip", "reason": SKIPPED[name]}
            continue
        exp = EXPECTED[name]
        last = exp["blocks"][-1]["text"] if exp.get("blocks") else exp["lead"]
        labels[f"pro/{n:03d}.txt"] = {
            "url": url, "kind": "article", "week": exp["week_start"] and exp["week_start"].isoformat(),
            "bulk_import": False, "section": exp["section"], "trend": exp.get("trend"), "title": exp["title"],
            "lead": exp["lead"], "last": last, "lang": "en", "truncated": False, "caption": None,
            "published_known": exp["week_start"] is not None,
        }  # fmt: skip
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps(labels), encoding="utf-8")
    assert real_pages.main([str(tmp_path / "pages"), str(expected), "--failures"]) == 0
    out = capsys.readouterr().out
    assert "pro: 3 pages, 2 articles, 1 non-articles; parser rejected 0" in out and "0 non-articles published" in out
    assert out.count("100.0%") == 11 and out.rstrip().endswith("failures:")
    labels["pro/001.txt"]["trend"] = "worse"  # a wrong label is reported as that page's failure
    expected.write_text(json.dumps(labels), encoding="utf-8")
    real_pages.main([str(tmp_path / "pages"), str(expected), "--failures"])
    assert "pro/001.txt: trend: better != worse" in capsys.readouterr().out
