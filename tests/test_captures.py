"""Tests of the page-capture parser: the real seed, one fixture per layout and irregularity, the week parser."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from api.ingest.captures import is_yearless_week, parse_capture, parse_stamp, parse_week, week_from_timestamp
from api.ingest.records import ArchiveError, ArticleRecord, Skip
from api.ingest.text import paragraph, plain_list
from api.ingest.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
GOOD = Path(__file__).resolve().parent / "fixtures" / "captures"
BAD = Path(__file__).resolve().parent / "fixtures" / "captures_bad"
SEED = ROOT / "data/archive/000_4ca6c26e1ba04525.txt"  # the real capture, under its own name
NEW = "https://situation.example.org"
OLD = "http://old.situation-belarus.example.net"
CHROME = (
    "successfully subscribed", "Subscribe", "newsletter", "Once a week", "Situation in Belarus", "View all",
    "Read more", "Similar articles", "Error message", "All trends", "header -->", "BE/RU",
)  # fmt: skip


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load()


def parse(path: Path, vocab: Vocabulary) -> ArticleRecord | Skip:
    return parse_capture(str(path), path.read_text(encoding="utf-8"), vocab)


def parse_text(text: str, vocab: Vocabulary) -> ArticleRecord | Skip:
    return parse_capture("inline.txt", text, vocab)


def para(text: str) -> dict:
    return paragraph(text)


def items(*texts: str, ordered: bool = False) -> dict:
    return plain_list(ordered, list(texts))


def all_text(rec: ArticleRecord) -> str:
    parts = [rec.title, rec.lead]
    for block in rec.blocks:
        parts.extend(block.get("items", [block.get("text", "")]))
    return "\n".join(parts)


# ---------------------------------------------------------------- the real capture


def test_seed_capture_fields(vocab):
    rec = parse(SEED, vocab)
    assert isinstance(rec, ArticleRecord)
    assert rec.week_start == dt.date(2022, 2, 14)
    assert rec.week_source == "printed"
    assert rec.section == "security-issues"
    assert rec.trend == "worse"
    assert rec.title == "Minsk sends conflicting signals about the expanding Russian military presence"
    assert rec.line == 4
    assert rec.lead == (
        "Belarusian sources issued contradictory statements regarding Russian troops’ withdrawal timing following "
        "the joint exercise “Allied Resolve-2022”."
    )
    assert rec.slug == "minsk-sends-conflicting-signals-about-the-expanding-russian-military-presence"
    assert (rec.lang, rec.source, rec.truncated, rec.translation_key) == ("en", "capture", False, None)
    assert (rec.urls, rec.canonical_url, rec.fetched_at, rec.timestamp) == ([], None, None, None)
    assert (rec.image_caption, rec.image_credit) == (None, None)


def test_seed_capture_blocks(vocab):
    rec = parse(SEED, vocab)
    assert [b["type"] for b in rec.blocks] == ["paragraph", "paragraph", "paragraph", "list", "paragraph", "paragraph"]
    assert rec.blocks[0]["text"].startswith("Although it was initially stated")
    # Non-breaking spaces of the source are kept verbatim.
    assert rec.blocks[1]["text"].startswith("Minister of Foreign Affairs of Belarus\xa0Vladimir Makei\xa0and")
    assert rec.blocks[2]["text"].endswith("The Belarusian regime, therefore:")
    assert rec.blocks[3] == items(
        "demonstrates to the Kremlin military-political loyalty, which ensures continuing Russian financial support "
        "in light of the current regional situation.",
        "uses Russian troops in Belarus as a political lever with the West, using the traditional argument that "
        "“increased Western pressure leads to an increase in Russian influence.”",
    )
    assert rec.blocks[4]["text"].startswith("However, the logistics of any additional Russian military presence")
    assert rec.blocks[5]["text"].endswith("He, therefore, tries to take credit for the initiative to save face.")


def test_seed_capture_drops_chrome(vocab):
    text = all_text(parse(SEED, vocab))
    for chrome in ("successfully subscribed", "Read more", "March 13", "Subscribe", "View all", "Situation in Belarus"):
        assert chrome not in text


# ---------------------------------------------------------------- every layout, field by field

EXPECTED: dict[str, dict] = {
    "layout1_issue_view.txt": dict(
        line=10,
        week_start=dt.date(2017, 10, 2),
        week_source="printed",
        section="economy",
        trend="unchanged",
        title="Minsk turns to Chinese credit again",
        lead="The government has signed another package of loan agreements with Chinese state banks, this time to "
        "refinance obligations falling due in the fourth quarter.",
        blocks=[
            para("According to the Ministry of Finance, the new tranche will cover three needs:"),
            items(
                "repayment of the Eurobonds issued in 2011;",
                "completion of the second stage of the “Great Stone” industrial park;",
                "modernisation of the Mogilev and Grodno cement plants.",
                ordered=True,
            ),
            para(
                "None of these projects has so far generated the export revenue that was promised when they were "
                "launched. Officials nevertheless describe the credit line as proof that Beijing “trusts the "
                "Belarusian model”."
            ),
            para(
                "The structure of the debt does not change: Minsk keeps borrowing to pay off earlier loans, and the "
                "share of foreign-currency obligations in the total public debt remains above 90%."
            ),
        ],
        lang="en",
        image_caption="photo: BelTA",
        image_credit="BelTA",
        truncated=False,
        slug="minsk-turns-to-chinese-credit-again",
        timestamp=None,
        fetched_at=dt.datetime(2019, 4, 2, 8, 14, 51, tzinfo=dt.UTC),
        urls=[f"{OLD}/en/economy/minsk-turns-to-chinese-credit-again"],
    ),
    "layout2_canonical_view.txt": dict(
        line=4,
        week_start=dt.date(2017, 3, 13),  # Monday stamp: the issue of the week before
        week_source="timestamp",
        timestamp=dt.datetime(2017, 3, 20, 9, 55, tzinfo=dt.UTC),
        section="society-and-politics",
        trend=None,
        title="“Social parasites” decree suspended after street protests",
        lead="The authorities have suspended collection of the “social parasites” levy for a year after a wave of "
        "regional protests that brought thousands of people onto the streets.",
        blocks=[
            para(
                "Decree No. 3 obliged citizens who had not worked for more than 183 days a year to pay a fee of "
                "about 20 basic units. Protests began in February in Minsk, Gomel, Vitebsk and Brest and, unusually, "
                "were dominated by people without any previous political experience."
            ),
            para(
                "Lukashenko tried to shift responsibility onto the government and local officials, but the "
                "suspension of the decree did not stop the demonstrations: the opposition has called for a march "
                "on 25 March, Freedom Day."
            ),
            para(
                "The authorities are likely to combine concessions on the decree itself with selective detentions "
                "of organisers ahead of the march."
            ),
        ],
        lang="en",
        image_caption="Image: Radio Svaboda, https://www.svaboda.example/a/28379190.html",
        image_credit="Radio Svaboda, https://www.svaboda.example/a/28379190.html",
        truncated=False,
        slug="social-parasites-decree-suspended-after-street-protests",
        fetched_at=dt.datetime(2018, 11, 7, 13, 2, 10, tzinfo=dt.UTC),  # +03:00 in the header
    ),
    "layout2_midweek_stamp.txt": dict(
        line=4,
        week_start=dt.date(2017, 4, 3),  # a Wednesday stamp falls inside its own week
        week_source="timestamp",
        timestamp=dt.datetime(2017, 4, 5, 14, 30, tzinfo=dt.UTC),
        section="international-relations",
        trend=None,
        title="Minsk and Warsaw resume talks on border crossings",
        lead="Belarusian and Polish deputy foreign ministers met in Białystok for the first time in two years and "
        "agreed to reopen the working group on border infrastructure.",
        blocks=[
            para(
                "The Polish side raised the queues of lorries at the Kozlovichi – Kukuryki crossing, which in March "
                "exceeded 1,500 vehicles on some days. Minsk, for its part, asked for the simplified local border "
                "traffic regime to be extended to the Grodno region."
            ),
            para(
                "Both sides avoided human rights issues in the official communiqué. Warsaw appears ready to separate "
                "practical cooperation from its criticism of the March detentions."
            ),
        ],
        lang="en",
        image_caption=None,
        image_credit=None,
        truncated=False,
        slug="minsk-and-warsaw-resume-border-talks",
    ),
    "layout3_newer_site.txt": dict(
        line=8,
        week_start=dt.date(2023, 4, 10),
        week_source="printed",
        section="ruling-elite",
        trend="unchanged",
        title="Government reshuffle brings security officials to the fore",
        lead="Lukashenka replaced three ministers and two regional governors, continuing the trend of appointing "
        "people with a background in the security services to civilian posts.",
        blocks=[
            para("The new appointees share three characteristics:"),
            items(
                "a career in the KGB, the Interior Ministry or the State Control Committee;",
                "no public political profile before 2020;",
                "personal loyalty tested during the suppression of the 2020 protests.",
                ordered=True,
            ),
            para(
                "The reshuffle does not signal a change of course. It rather consolidates a model in which "
                "managerial competence matters less than the absence of contacts with the West."
            ),
            para(
                "For the nomenklatura, the message is clear: career growth is possible only through the security "
                "bloc, and technocrats remain in secondary roles."
            ),
        ],
        lang="en",
        image_caption="Фота: Belsat",  # a Cyrillic caption inside an English article
        image_credit="Belsat",
        truncated=False,
        slug="government-reshuffle-brings-security-officials-to-the-fore",
        authors=[],
    ),
    "layout4_body_only.txt": dict(
        line=1,
        week_start=None,
        week_source=None,
        section=None,
        trend=None,
        title="Potash exports find a new route through Russian ports",
        lead="Belaruskali has shipped its first full-scale consignments of potash through the port of Ust-Luga, nine "
        "months after Lithuania stopped transit via Klaipėda.",
        blocks=[
            para(
                "The switch to Russian ports has raised logistics costs considerably. According to industry "
                "estimates, the company loses between 30 and 50 dollars per tonne compared with the Lithuanian route."
            ),
            para("The main factors behind the higher costs are:"),
            items(
                "longer rail distances to the Baltic coast;",
                "tariffs set by Russian Railways without discounts for Belarusian cargo;",
                "a shortage of specialised terminals in Ust-Luga.",
            ),
            para(
                "Minsk has requested that Moscow allocate dedicated terminal capacity, but no agreement has been "
                "announced yet."
            ),
        ],
        lang="en",
        image_caption=None,
        truncated=False,
        slug="potash-exports-find-a-new-route-through-russian-ports",  # no URL: from the title
        urls=[],
        canonical_url=None,
        fetched_at=None,
    ),
    "layout5_moved_article.txt": dict(
        line=4,
        week_start=None,
        section=None,  # the old URL has no section segment
        trend=None,
        title="Eurasian Development Bank delays the next loan tranche",
        lead="The Eurasian Fund for Stabilisation and Development has postponed the disbursement of the fourth "
        "tranche of its loan until Minsk presents a plan for reforming state-owned enterprises.",
        blocks=[
            para(
                "The fund’s conditions are nothing new: they were included in the programme approved in 2016, but "
                "until now they were interpreted flexibly."
            ),
            para(
                "The delay reflects Moscow’s growing reluctance to finance the Belarusian economy without political "
                "guarantees."
            ),
        ],
        lang="en",
        truncated=False,
        slug="eurasian-development-bank-loan-delayed",
        canonical_url=f"{NEW}/eurasian-development-bank-loan-delayed",
    ),
    "week_crossing_months.txt": dict(
        line=7,
        week_start=dt.date(2023, 7, 31),
        section="economy",
        trend="better",  # printed as the variant "The situation has improved"
        title="Russian market absorbs record dairy exports",
        lead="Dairy exports reached a record 2.1 billion dollars in the first half of the year, almost entirely "
        "thanks to demand in Russia.",
        blocks=[
            para("The growth rests on three factors:"),
            items(
                "the departure of Western brands from Russian supermarket shelves;",
                "the weak Belarusian ruble, which keeps prices competitive;",
                "state subsidies for processing plants in the Minsk and Brest regions.",
            ),
            para(
                "The dependence on a single market makes the sector vulnerable: any Russian veterinary restriction "
                "can halve revenues within weeks."
            ),
        ],
        lang="en",
        truncated=False,
        slug="russian-market-absorbs-record-dairy-exports",
    ),
    "week_crossing_years_single_year.txt": dict(
        line=7,
        week_start=dt.date(2025, 12, 29),  # "December 29 – January 4, 2026"
        section="international-relations",
        trend="worse",
        title="Lithuania extends the closure of border checkpoints into the new year",
        lead="Vilnius has extended the closure of two checkpoints on the Belarusian border until the end of January, "
        "citing continued incursions of smuggling balloons.",
        blocks=[
            para(
                "Minsk responded by restricting the movement of Lithuanian lorries that remained on Belarusian "
                "territory, turning a border dispute into a hostage situation for carriers."
            ),
            para(
                "Neither side shows interest in de-escalation before the Lithuanian parliament debates the new "
                "sanctions package."
            ),
        ],
        lang="en",
        truncated=False,
        slug="lithuania-extends-border-closure",
    ),
    "week_crossing_years_both_years.txt": dict(
        line=7,
        week_start=dt.date(2014, 12, 29),  # "December 29, 2014 – January 4, 2015"
        section="economy",
        trend="worse",
        title="Ruble devaluation and the foreign currency levy",
        lead="The National Bank has kept the 30% levy on purchases of foreign currency into the new year, despite "
        "promises to lift it after the holidays.",
        blocks=[
            para(
                "Demand for dollars and euros fell sharply, but the spread between the official and the “grey” rate "
                "widened to almost 20%."
            ),
            para(
                "Analysts expect the levy to be replaced by a one-off devaluation in January, which would hit "
                "household savings in rubles."
            ),
        ],
        lang="en",
        truncated=False,
        slug="ruble-devaluation-and-the-foreign-currency-levy",
    ),
    "russian_article_english_chrome.txt": dict(
        line=7,
        week_start=dt.date(2023, 3, 6),
        section="security-issues",
        trend="worse",
        title="Минск ужесточает контроль над границей с Украиной",
        lead="Госпогранкомитет объявил о создании дополнительных застав на участке границы с Украиной и о переброске "
        "туда подразделений спецназа.",
        blocks=[
            para(
                "Официально меры объясняются «угрозой провокаций» с украинской стороны. Однако реальных инцидентов за "
                "последние недели зафиксировано не было."
            ),
            para("Вероятно, усиление границы преследует две цели:"),
            items(
                "продемонстрировать Кремлю готовность прикрывать северный фланг;",
                "создать для внутренней аудитории образ внешней угрозы накануне новой волны репрессий.",
            ),
            para("Риск прямого вовлечения белорусской армии в войну при этом остается низким."),
        ],
        lang="ru",  # English chrome all around, Russian article
        image_caption="Фото: Пресс-служба Госпогранкомитета",
        image_credit="Пресс-служба Госпогранкомитета",
        truncated=False,
        slug="minsk-uzhestochaet-kontrol-nad-granitsei",
    ),
    "russian_week.txt": dict(
        line=7,
        week_start=dt.date(2023, 2, 27),  # "27 февраля – 5 марта 2023"
        week_source="printed",
        section="international-relations",  # printed "Международные отношения"
        trend="unchanged",  # printed "Ситуация не изменилась"
        title="Минск и Пекин подписали план сотрудничества до 2025 года",
        lead="Визит Лукашенко в Пекин завершился подписанием шестнадцати документов, большинство из которых носят "
        "рамочный характер.",
        blocks=[
            para(
                "Белорусская сторона рассчитывала на новые кредиты для индустриального парка «Великий камень», однако "
                "конкретных обязательств китайская сторона не взяла."
            ),
            # A lone dash line is direct speech, not a one-item list: kept verbatim.
            para("– Мы открыты для всех честных партнеров, – заявил Лукашенко на встрече с председателем КНР."),
            para(
                "Пекин по-прежнему рассматривает Минск как транзитный узел, а не как самостоятельного экономического "
                "партнера."
            ),
        ],
        lang="ru",
        truncated=False,
        slug="minsk-i-pekin-podpisali-plan-sotrudnichestva",
    ),
    "belarusian_path_body_only.txt": dict(
        line=4,
        week_start=None,
        section="international-relations",  # from /by/mizhnarodnyya-adnosiny/
        trend=None,
        title="Мінск і Вільня працягваюць спрэчку пра пункты пропуску",
        lead="Літва зачыніла яшчэ два пункты пропуску на мяжы з Беларуссю, спаслаўшыся на пагрозы нацыянальнай "
        "бяспецы.",
        blocks=[
            para("Беларускі бок назваў гэтае рашэнне палітычным і пагрозіў адказнымі мерамі ў транзіце."),
            para("Эканамічныя страты ад закрыцця адчуюць перш за ўсё жыхары памежных раёнаў абедзвюх краін."),
        ],
        lang="be",
        truncated=False,
        slug="minsk-i-vilnya-spracha-pra-punkty-propusku",
    ),
    "truncated.txt": dict(
        line=7,
        week_start=dt.date(2022, 9, 5),
        section="society-and-politics",
        trend="unchanged",
        title="Schools begin the year with a shortage of teachers",
        lead="The Ministry of Education has reported more than 1,800 vacancies for teachers at the start of the school "
        "year, most of them in Minsk and the regional centres.",
        blocks=[
            para(
                "Officials blame “emigration moods” and low salaries, but teachers themselves point to the new "
                "loyalty checks introduced in the summer, under which contracts are not renewed for those who took "
                "part in the 2020 prot"
            )
        ],
        lang="en",
        truncated=True,
        slug="schools-begin-the-year-with-a-shortage-of-teachers",
    ),
    "cut_inside_chrome.txt": dict(
        line=7,
        week_start=dt.date(2022, 11, 21),
        section="economy",
        trend="worse",
        title="State enterprises freeze wages for the winter",
        lead="The Ministry of Economy has instructed state enterprises not to raise wages until March, in an attempt "
        "to hold inflation below the 19% target.",
        # The source forgot the full stop; chrome follows, so the article itself is complete.
        blocks=[
            para("The measure mostly affects workers in the regions, where state enterprises remain the main employer")
        ],
        truncated=False,
        slug="state-enterprises-freeze-wages",
    ),
    "bulk_import_a.txt": dict(
        line=4,
        week_start=dt.date(2020, 11, 9),  # inferred from the bulk-import stamp; the loader decides to drop it
        week_source="timestamp",
        timestamp=dt.datetime(2020, 11, 16, 11, 42, tzinfo=dt.UTC),
        section="ruling-elite",
        trend=None,
        title="Political prisoners released before the election",
        slug="political-prisoners-released-before-the-election",
    ),
    "bulk_import_b.txt": dict(
        line=4,
        week_start=dt.date(2020, 11, 9),
        week_source="timestamp",
        timestamp=dt.datetime(2020, 11, 16, 11, 58, tzinfo=dt.UTC),
        section="society-and-politics",
        title="Opposition fails to agree on a single candidate",
        slug="opposition-fails-to-agree-on-a-single-candidate",
    ),
    "bulk_import_c.txt": dict(
        line=4,
        week_start=dt.date(2020, 11, 9),
        week_source="timestamp",
        timestamp=dt.datetime(2020, 11, 16, 12, 21, tzinfo=dt.UTC),
        section="economy",
        title="State banks refinance loss-making farms",
        slug="state-banks-refinance-loss-making-farms",
    ),
    # Six more of the nine articles the import stamped within two hours (a, b and c above): English and Russian,
    # each section; each parses with the week its stamp implies, which the loader then drops (test_loader_e2e).
    **{
        f"bulk_import_{key}.txt": dict(
            line=4,
            week_start=dt.date(2020, 11, 9),
            week_source="timestamp",
            timestamp=dt.datetime(2020, 11, 16, hh, mm, tzinfo=dt.UTC),
            section=section,
            trend=None,
            title=title,
            slug=slug,
            lang=lang,
            truncated=False,
        )
        for key, hh, mm, section, title, slug, lang in (
            (
                "d",
                12,
                5,
                "regions",
                "District hospitals merged into regional centres",
                "district-hospitals-merged-into-regional-centres",
                "en",
            ),
            (
                "e",
                12,
                33,
                "economy",
                "Нацбанк снова снижает ставку рефинансирования",
                "natsbank-snova-snizhaet-stavku",
                "ru",
            ),
            (
                "f",
                12,
                47,
                "elections",
                "Local election commissions formed without the opposition",
                "local-election-commissions-formed-without-the-opposition",
                "en",
            ),
            (
                "g",
                13,
                2,
                "international-relations",
                "Minsk and Kyiv agree on border demarcation",
                "minsk-and-kyiv-agree-on-border-demarcation",
                "en",
            ),
            (
                "h",
                13,
                18,
                "society-and-politics",
                "Оппозиция объявила бойкот парламентских выборов",
                "oppozitsiya-obyavila-boikot",
                "ru",
            ),
            (
                "i",
                13,
                35,
                "security-issues",
                "Conscription plan raised by a fifth",
                "conscription-plan-raised-by-a-fifth",
                "en",
            ),
        )
    },  # fmt: skip
    "dup_layout3_old_url.txt": dict(
        line=4,
        week_start=None,  # the moved copy of layout3_newer_site: body only, under another slug
        section=None,
        trend=None,
        title="Government reshuffle brings security officials to the fore",
        slug="government-reshuffle-security-officials",
        urls=[f"{OLD}/en/government-reshuffle-security-officials"],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_fixture_fields(name, vocab):
    rec = parse(GOOD / name, vocab)
    assert isinstance(rec, ArticleRecord)
    actual = {key: getattr(rec, key) for key in EXPECTED[name]}
    assert actual == EXPECTED[name]
    assert (rec.source, rec.translation_key, rec.path) == ("capture", None, str(GOOD / name))


NON_ARTICLES = {
    "layout6_listing_page.txt": "section listing page",
    "layout6_home_page.txt": "home page",
    "layout6_event.txt": "event announcement",
    "layout6_sister_project.txt": "sister project page",
}


@pytest.mark.parametrize(("name", "reason"), sorted(NON_ARTICLES.items()))
def test_capture_non_article_is_skipped(name, reason, vocab):
    assert parse(GOOD / name, vocab) == Skip(str(GOOD / name), reason)


def test_capture_good_directory_loads_cleanly(vocab):
    results = [parse(path, vocab) for path in sorted(GOOD.glob("*.txt"))]
    assert len(results) == 33
    assert sum(isinstance(r, Skip) for r in results) == 4


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.txt")), ids=lambda p: p.name)
def test_capture_fixture_has_no_chrome_in_body(path, vocab):
    rec = parse(path, vocab)
    if path.name in NON_ARTICLES:  # no body to check: skipped, for exactly its reason
        assert rec == Skip(str(path), NON_ARTICLES[path.name])
        return
    assert not isinstance(rec, Skip), rec
    text = all_text(rec)
    for chrome in CHROME:
        assert chrome not in text
    for line in text.splitlines():
        assert line not in ("EN", "Category status:") and not line.startswith(("Image:", "photo:", "Фото:", "Фота:"))


# ---------------------------------------------------------------- one article captured five ways


DUPLICATES = {
    "dup_new_https.txt": (f"{NEW}/security-issues/lukashenka-reshuffles-the-security-council", "printed"),
    "dup_new_http_www.txt": (
        "http://www.situation.example.org/security-issues/lukashenka-reshuffles-the-security-council",
        "printed",
    ),
    "dup_new_page2.txt": (f"{NEW}/security-issues/lukashenka-reshuffles-the-security-council?page=2", "printed"),
    "dup_old_canonical.txt": (f"{OLD}/en/security/lukashenka-reshuffles-the-security-council", "timestamp"),
    "dup_old_issue_view.txt": (
        f"{OLD}/en/issue/march-13-march-19-2017/lukashenka-reshuffles-the-security-council",
        "printed",
    ),
}


@pytest.mark.parametrize("name", sorted(DUPLICATES))
def test_capture_duplicates_parse_to_the_same_article(name, vocab):
    rec = parse(GOOD / name, vocab)
    url, week_source = DUPLICATES[name]
    assert (rec.urls, rec.canonical_url) == ([url], url)
    assert rec.slug == "lukashenka-reshuffles-the-security-council"  # ?page=2 is not part of the slug
    assert rec.title == "Lukashenka reshuffles the Security Council"
    assert rec.lead.startswith("Lukashenka has appointed a new State Secretary of the Security Council")
    assert len(rec.blocks) == 2 and rec.blocks[-1]["text"].endswith("expected to coordinate rather than lead.")
    assert (rec.week_start, rec.week_source) == (dt.date(2017, 3, 13), week_source)
    # Only the canonical view lacks the trend; only the issue view lacks the section (no segment, none printed).
    assert rec.trend == (None if name == "dup_old_canonical.txt" else "unchanged")
    assert rec.section == (None if name == "dup_old_issue_view.txt" else "security-issues")


# ---------------------------------------------------------------- captures that must be rejected


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("unknown_trend.txt", 9, "unknown trend phrase 'The situation is weird'"),
        ("empty_title.txt", 8, "empty title: found 'The situation got worse' where the title should be"),
        ("week_not_monday.txt", 1, "week 'February 15 – February 21, 2022' starts on a Tuesday, not on a Monday"),
        ("no_lead.txt", 4, "no lead paragraph after the title"),
    ],
)
def test_capture_bad_fixture_is_rejected_with_line(name, line, reason, vocab):
    with pytest.raises(ArchiveError) as err:
        parse(BAD / name, vocab)
    assert (err.value.path, err.value.line, err.value.reason) == (str(BAD / name), line, reason)
    assert str(err.value) == f"{BAD / name}:{line}: {reason}"


def test_capture_empty_file_is_rejected(vocab):
    with pytest.raises(ArchiveError, match="empty title"):
        parse_text("\n\n", vocab)


def test_capture_bad_fetched_timestamp_is_rejected(vocab):
    with pytest.raises(ArchiveError) as err:
        parse_text("URL: https://situation.example.org/economy/x\nFetched: yesterday\n\nTitle\nLead.\n", vocab)
    assert err.value.line == 2 and "Fetched" in err.value.reason


# ---------------------------------------------------------------- smaller behaviours, inline captures


def test_capture_naive_fetched_is_utc(vocab):
    rec = parse_text("URL: https://situation.example.org/x\nFetched: 2023-03-21T08:00:00\n\nTitle\nLead.\n", vocab)
    assert rec.fetched_at == dt.datetime(2023, 3, 21, 8, 0, tzinfo=dt.UTC)


def test_capture_header_without_blank_line_and_without_url(vocab):
    rec = parse_text("Fetched: 2023-03-21T08:00:00Z\nTitle\nLead.\n", vocab)
    assert (rec.title, rec.line, rec.lead, rec.urls, rec.slug) == ("Title", 2, "Lead.", [], "title")


def test_capture_lead_that_reads_like_a_verdict_is_text_without_a_printed_week(vocab):
    rec = parse_text("Border queues grow\nThe situation on the border remains tense.\nLorries wait for days.\n", vocab)
    assert (rec.trend, rec.lead) == (None, "The situation on the border remains tense.")


def test_capture_author_line_with_name(vocab):
    text = "by Anna Kowalska\nFebruary 14 – February 20, 2022\nSecurity issues\n\nTitle\n\nThe situation got worse\nTitle\n\nLead.\n"
    rec = parse_text(text, vocab)
    assert (rec.authors, rec.title, rec.trend, rec.section) == (["Anna Kowalska"], "Title", "worse", "security-issues")


def test_capture_caption_inside_body_is_not_text(vocab):
    rec = parse_text(
        "Title\nLead.\nFirst paragraph.\nphoto: Nasha Niva, https://nn.example/1.jpg\nLast paragraph.\n", vocab
    )
    assert rec.image_caption == "photo: Nasha Niva, https://nn.example/1.jpg"
    assert rec.image_credit == "Nasha Niva, https://nn.example/1.jpg"
    assert rec.blocks == [para("First paragraph."), para("Last paragraph.")]


def test_capture_bullets_separated_by_blank_lines_make_one_list(vocab):
    rec = parse_text("Title\n\nLead:\n\n  • one;\n\n  • two.\n", vocab)
    assert rec.blocks == [items("one;", "two.")]


def test_capture_different_bullet_kinds_make_separate_lists(vocab):
    rec = parse_text("Title\nLead:\n1) first;\n2) second.\n– a;\n– b.\n", vocab)
    assert rec.blocks == [items("first;", "second.", ordered=True), items("a;", "b.")]


def test_capture_section_name_printed_in_russian(vocab):
    text = "14 – 20 февраля 2022\nВопросы безопасности\n\nЗаголовок\n\nСитуация ухудшилась\nЗаголовок\n\nЛид статьи.\n"
    rec = parse_text(text, vocab)
    assert (rec.week_start, rec.section, rec.trend, rec.lang) == (
        dt.date(2022, 2, 14),
        "security-issues",
        "worse",
        "ru",
    )


def test_capture_plain_hyphen_week(vocab):
    text = "February 14 - February 20, 2022\nSecurity issues\n\nTitle\n\nThe situation got worse\nTitle\n\nLead.\n"
    assert parse_text(text, vocab).week_start == dt.date(2022, 2, 14)


def test_capture_sidebar_week_is_never_the_article_week(vocab):
    text = "Title\nLead.\n\nSituation in Belarus\n\nMarch 13 – March 19\nView all\n"
    rec = parse_text(text, vocab)
    assert (rec.week_start, rec.blocks, rec.truncated) == (None, [], False)


# ---------------------------------------------------------------- the week parser


@pytest.mark.parametrize(
    ("printed", "start", "end"),
    [
        ("February 14 – February 20, 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
        ("July 31 – August 6, 2023", dt.date(2023, 7, 31), dt.date(2023, 8, 6)),
        ("December 29 – January 4, 2026", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("December 29, 2025 – January 4, 2026", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("December 29, 2025 – January 4", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("February 14 - February 20, 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
        ("February 14–20, 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
        ("14 февраля – 20 февраля 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
        ("14 – 20 февраля 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
        ("27 февраля – 5 марта 2023 г.", dt.date(2023, 2, 27), dt.date(2023, 3, 5)),
        ("29 декабря – 4 января 2026", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("29 декабря 2025 – 4 января 2026", dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("14 – 20 лютага 2022", dt.date(2022, 2, 14), dt.date(2022, 2, 20)),
    ],
)
def test_week_parser_reads_every_printing(printed, start, end):
    assert parse_week(printed) == (start, end)


@pytest.mark.parametrize(
    "line", ["March 13 – March 19", "13 – 19 марта", "Security issues", "2 – 3 million", "Mayday 1 – 7, 2022", ""]
)
def test_week_parser_ignores_lines_that_are_not_dated_weeks(line):
    assert parse_week(line) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("February 15 – February 21, 2022", "starts on a Tuesday"),
        ("February 30 – March 6, 2022", "impossible date"),
        ("February 14, 2022 – February 10, 2022", "ends before it starts"),
    ],
)
def test_week_parser_rejects_invalid_weeks(line, message):
    with pytest.raises(ValueError, match=message):
        parse_week(line)


def test_week_parser_recognises_yearless_weeks():
    assert is_yearless_week("March 13 – March 19")
    assert is_yearless_week("13 – 19 марта")
    assert not is_yearless_week("March 13 – March 19, 2023")
    assert not is_yearless_week("Read more")


@pytest.mark.parametrize(
    ("stamp", "week"),
    [
        ("March 20, 2017 9:55", dt.date(2017, 3, 13)),  # Monday: the week before
        ("April 05, 2017 14:30", dt.date(2017, 4, 3)),  # Wednesday: its own week
        ("March 19, 2017 23:59", dt.date(2017, 3, 13)),  # Sunday: its own week
        ("January 2, 2017 10:00", dt.date(2016, 12, 26)),  # Monday across a year
    ],
)
def test_week_from_timestamp(stamp, week):
    assert week_from_timestamp(parse_stamp(stamp)) == week


def test_stamp_parser():
    assert parse_stamp("March 20, 2017 9:55") == dt.datetime(2017, 3, 20, 9, 55, tzinfo=dt.UTC)
    assert parse_stamp("March 06, 2017 10:05") == dt.datetime(2017, 3, 6, 10, 5, tzinfo=dt.UTC)
    assert parse_stamp("20 марта 2017 9:55") == dt.datetime(2017, 3, 20, 9, 55, tzinfo=dt.UTC)
    assert parse_stamp("March 20, 2017") is None
    assert parse_stamp("Marsh 20, 2017 9:55") is None


def test_capture_issue_view_without_blank_line_under_the_week(vocab):
    text = (
        "by\nMarch 13 – March 19, 2017\nTitle of the article\n\nThe situation got worse\nTitle of the article\nLead.\n"
    )
    rec = parse_text(text, vocab)
    assert (rec.title, rec.line, rec.section, rec.trend, rec.lead) == (
        "Title of the article",
        3,
        None,
        "worse",
        "Lead.",
    )


def test_capture_cut_inside_the_newsletter_sentence_is_not_truncated(vocab):
    rec = parse_text("Title\nLead.\nLast paragraph.\n\nSubscribe to our newsletter\n\nOnce a week, in coord", vocab)
    assert (rec.blocks, rec.truncated) == ([para("Last paragraph.")], False)
