"""Merges never publish what is hidden: generated copies of one article, with random statuses, embargoes and
fields, under permuted file names and orders, through the deduplication index (fast, Hypothesis) and through the
whole loader and the API (both backends)."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest.merge import Index
from api.ingest.records import ArticleRecord
from api.ingest.report import LoadFailed
from api.store.models import Article
from tests.conftest import ARCHIVE, make_app
from tests.test_loader_e2e import drop_store, fixture_archive, load, new_store, public_headers, rows

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
PAST, FUTURE, LATER = NOW - dt.timedelta(days=3), NOW + dt.timedelta(days=3), NOW + dt.timedelta(days=30)
MONDAYS = (dt.date(2026, 5, 4), dt.date(2026, 5, 11))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _record(n: int, copy: dict) -> ArticleRecord:
    """Copy number `n` of one article: every copy shares the title (so all are one article in one language);
    captions and credits are unique to the copy, so the one served names the copy it came from."""
    return ArticleRecord(
        path="",
        line=2,
        source=copy["source"],
        slug=copy["slug"],
        title="Minsk reshuffles the security council",
        lead="A lead " + "word " * copy["length"],
        blocks=[{"type": "paragraph", "text": "Body of the article."}],
        lang=copy.get("lang", "en"),
        translation_key=copy.get("tk"),
        section=copy["section"],
        trend=copy["trend"],
        week_start=copy["week"],
        week_source="document" if copy["week"] else None,
        image_caption=f"caption of copy {n}" if copy["caption"] else None,
        image_credit=f"credit of copy {n}" if copy["caption"] else None,
        status=copy["status"],
        embargo_until=copy["embargo"],
        truncated=copy["truncated"],
        urls=[f"https://example.org/politics/{copy['slug']}-url-{n}"] if copy["source"] == "capture" else [],
        aliases=[f"alias-of-copy-{n}"] if copy["source"] == "document" else [],
    )


COPY = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["document", "capture"]),
        "slug": st.sampled_from(["reshuffle", "security-council-reshuffle"]),
        "status": st.sampled_from(["published", "draft", "retracted"]),
        "embargo": st.sampled_from([None, PAST, FUTURE, LATER]),
        "section": st.sampled_from([None, "politics", "security"]),
        "trend": st.sampled_from([None, "worse", "better"]),
        "week": st.sampled_from([None, *MONDAYS]),
        "caption": st.booleans(),
        "truncated": st.booleans(),
        "length": st.integers(1, 3),  # few lengths, so richness ties are common
    }
)


def _visible_from(copy: dict) -> dt.datetime | None:
    if copy["status"] != "published":
        return None
    return max(NOW, copy["embargo"]) if copy["embargo"] else NOW


def _plan(records: list[ArticleRecord], order: list[int], names: list[str]) -> dict:
    """Index the records in `order` under file `names`; return what the index plans to store, paths left out."""
    with tempfile.TemporaryDirectory() as scratch:
        index = Index(scratch)
        try:
            for i in order:
                rec = records[i]
                rec.path = f"archive/{names[i]}"
                index.add(Path("/") / rec.path, rec)
            index.group()
            index.plan(set(), NOW)
            articles = []
            for row in index.articles():
                fields = orjson.loads(row.pop("record"))
                row.update((k, fields[k]) for k in ("status", "embargo_until", "lead", "lang"))
                articles.append(row)
            return {"articles": articles, "aliases": list(index.aliases()), "urls": list(index.urls())}
        finally:
            index.close()


def _names(rng: random.Random, n: int) -> list[str]:
    names = [f"{rng.randrange(10**6):06d}-{i}.md" for i in range(n)]
    rng.shuffle(names)
    return names


@PROPERTY
@given(copies=st.lists(COPY, min_size=1, max_size=5), seed=st.integers(0, 2**32))
def test_the_winner_and_what_it_is_lent_depend_on_content_never_on_paths(copies, seed):
    rng = random.Random(seed)
    records = [_record(n, c) for n, c in enumerate(copies)]
    first = _plan(records, list(range(len(copies))), _names(rng, len(copies)))
    order = list(range(len(copies)))
    rng.shuffle(order)
    second = _plan([_record(n, c) for n, c in enumerate(copies)], order, _names(rng, len(copies)))
    strip = [{k: v for k, v in a.items() if k != "rel"} for a in first["articles"]]
    assert strip == [{k: v for k, v in a.items() if k != "rel"} for a in second["articles"]]
    assert first["aliases"] == second["aliases"] and first["urls"] == second["urls"]


@PROPERTY
@given(copies=st.lists(COPY, min_size=1, max_size=5), seed=st.integers(0, 2**32))
def test_a_hidden_copy_never_wins_over_a_public_one_and_lends_it_nothing(copies, seed):
    rng = random.Random(seed)
    order = list(range(len(copies)))
    rng.shuffle(order)
    plan = _plan([_record(n, c) for n, c in enumerate(copies)], order, _names(rng, len(copies)))
    (article,) = plan["articles"]  # one title, one language: one article
    visible = [_visible_from(c) for c in copies]
    public = [v for v in visible if v is not None]
    winner_from = (
        None
        if article["status"] != "published"
        else max(NOW, dt.datetime.fromisoformat(article["embargo_until"]))
        if article["embargo_until"]
        else NOW
    )
    if public:  # the winner is visible as early as the most visible copy
        assert winner_from == min(public)

    def lenders() -> list[int]:  # the copies public whenever the winner is
        if winner_from is None:
            return list(range(len(copies)))
        return [n for n, v in enumerate(visible) if v is not None and v <= winner_from]

    allowed = lenders()
    if article["image_caption"] is not None:
        n = int(article["image_caption"].rsplit(" ", 1)[1])
        assert n in allowed, f"the caption of hidden copy {n} ({copies[n]['status']}) was lent to the winner"
    for name, key in (("section", "section"), ("trend", "trend"), ("week_start", "week")):
        value = article[name]
        if value is not None:
            assert any(str(copies[n][key]) == str(value) for n in allowed), f"{name} came from a hidden copy"
    for slug, _, _ in plan["aliases"]:  # a copy's own slug, its URL's slug or a slug it declares
        if slug in {"reshuffle", "security-council-reshuffle"}:
            assert any(copies[n]["slug"] == slug for n in allowed), f"the slug of a hidden copy is an alias: {slug}"
        else:
            assert int(slug.rsplit("-", 1)[1]) in allowed, f"an alias of a hidden copy was kept: {slug}"
    for url, _ in plan["urls"]:
        assert int(url.rsplit("-", 1)[1]) in allowed, f"the URL of a hidden copy was kept: {url}"


@PROPERTY
@given(
    copies=st.lists(
        st.fixed_dictionaries(
            {
                "lang": st.sampled_from(["en", "ru", "be"]),
                "slug": st.sampled_from(["a", "b"]),
                "tk": st.sampled_from([None, "t1"]),
                "source": st.just("document"),
            }  # fmt: skip
        ),
        min_size=1,
        max_size=6,
    ),
    seed=st.integers(0, 2**32),
)
def test_copies_in_different_languages_are_never_merged(copies, seed):
    records = []
    for n, c in enumerate(copies):
        full = {"status": "published", "embargo": None, "section": None, "trend": None, "week": None,
                "caption": False, "truncated": False, "length": 1, **c}  # fmt: skip
        rec = _record(n, full)
        rec.title = f"Title {c['slug']} {n}"  # titles differ: only slugs and translation keys can link copies
        records.append(rec)
    rng = random.Random(seed)
    order = list(range(len(copies)))
    rng.shuffle(order)
    plan = _plan(records, order, _names(rng, len(copies)))
    # Every language of the copies is served; one language's copies that share a slug or key are one article.
    assert {a["lang"] for a in plan["articles"]} == {c["lang"] for c in copies}
    slugs = [a["slug"] for a in plan["articles"]]
    assert len(slugs) == len(set(slugs))
    for lang in {c["lang"] for c in copies}:
        mine = [c for c in copies if c["lang"] == lang]
        # components of "shares a slug or a translation key" within this language
        groups: list[set] = []
        for c in mine:
            keys = {("slug", c["slug"])} | ({("tk", c["tk"])} if c["tk"] else set())
            joined = [g for g in groups if g & keys]
            merged = keys.union(*joined)
            groups = [g for g in groups if g not in joined] + [merged]
        assert len([a for a in plan["articles"] if a["lang"] == lang]) == len(groups)


# ---------------------------------------------------------------- the probe's three cases, through the API


DOC = """---
slug: {slug}
title: "{title}"
lang: {lang}
status: {status}
published_at: 2022-02-21T09:00:00Z
lead: "A lead for {title}."
{extra}---
The body of the article, the same in every copy.
"""


def _doc(archive: Path, name: str, slug: str, status: str = "published", lang: str = "en", title: str = "", **extra):
    lines = "".join(f"{k}: {v}\n" for k, v in extra.items())
    (archive / name).write_text(
        DOC.format(slug=slug, title=title or slug.replace("-", " "), lang=lang, status=status, extra=lines)
    )


@pytest.fixture
def store(backend, tmp_path):
    settings = new_store(backend, tmp_path / "store")
    yield settings
    drop_store(settings)


def _get(settings: dict, url: str):
    app = make_app(settings)
    try:
        return app.test_client().get(url)
    finally:
        app.extensions["store"].dispose()


@pytest.mark.parametrize("draft_first", [True, False])
def test_a_draft_copy_lends_no_caption_section_or_trend_to_the_published_article(store, tmp_path, draft_first):
    archive = tmp_path / "archive"
    archive.mkdir()
    names = ("a.md", "b.md") if draft_first else ("b.md", "a.md")
    _doc(archive, names[0], "the-article", "draft", image_caption='"DRAFTCAPTION"', image_credit="DRAFTCREDIT",
         section="economy", trend="worse", issue="2022-02-14")  # fmt: skip
    _doc(archive, names[1], "the-article")
    report = load(store, archive)
    resp = _get(store, "/v1/articles/the-article")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert "DRAFT" not in resp.get_data(as_text=True)
    assert (data.get("section"), data.get("trend"), data.get("issue")) == (None, None, None)
    assert report.hidden_copies and "(draft)" in report.hidden_copies[0]


@pytest.mark.parametrize("names", [("a.md", "z.md"), ("z.md", "a.md")])
def test_a_draft_copy_that_ties_on_richness_never_hides_the_published_article(store, tmp_path, names):
    archive = tmp_path / "archive"
    archive.mkdir()
    _doc(archive, names[0], "tied-article", "draft")
    _doc(archive, names[1], "tied-article", "published")
    load(store, archive)
    assert _get(store, "/v1/articles/tied-article").status_code == 200


def test_a_copy_in_another_language_never_merges_an_article_with_its_translation(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    _doc(archive, "en.md", "budget-deficit", lang="en", title="Budget deficit widens", translation_key="deficit")
    _doc(archive, "ru.md", "deficit-byudzheta", lang="ru", title="Дефицит бюджета растёт", translation_key="deficit")
    # A Russian copy filed under the English slug (same key): the same article as the Russian one, never the English.
    _doc(archive, "ru-copy.md", "budget-deficit", lang="ru", title="Дефицит бюджета растёт", translation_key="deficit")
    report = load(store, archive)
    en = _get(store, "/v1/articles/budget-deficit").get_json()["data"]
    ru = _get(store, "/v1/articles/deficit-byudzheta").get_json()["data"]
    assert (en["lang"], en["title"]) == ("en", "Budget deficit widens")
    assert (ru["lang"], ru["title"]) == ("ru", "Дефицит бюджета растёт")
    assert report.articles_loaded == 2


def test_one_slug_in_two_languages_serves_both_and_says_so(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    _doc(archive, "a.md", "shared-slug", lang="ru", title="Русская статья")
    _doc(archive, "b.md", "shared-slug", lang="en", title="English article")
    report = load(store, archive)
    assert _get(store, "/v1/articles/shared-slug").get_json()["data"]["lang"] == "en"
    assert _get(store, "/v1/articles/shared-slug-ru").get_json()["data"]["lang"] == "ru"
    assert report.renamed_slugs == ["shared-slug (ru) -> shared-slug-ru"]


def test_two_articles_of_one_language_under_one_slug_still_fail_the_load(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    _doc(archive, "a.md", "one-slug", lang="ru", title="Первая статья")
    _doc(archive, "b.md", "one-slug", lang="en", title="English article")
    _doc(archive, "c.md", "one-slug-ru", lang="ru", title="Другая статья")
    with pytest.raises(LoadFailed, match="share the slug 'one-slug-ru'"):
        load(store, archive)


def test_the_same_files_under_other_names_and_folders_load_to_the_same_store(backend, tmp_path, frozen_clock):
    # Every fixture capture and the sample documents, then the same files renamed at random into other folders:
    # the same rows (but where each article came from), the same generation, the same public ETags.
    frozen_clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    original = fixture_archive(tmp_path / "one")
    shutil.copytree(ARCHIVE, original, dirs_exist_ok=True)
    renamed = tmp_path / "two" / "captures"  # the same archive name: the store records it
    rng = random.Random(7)
    for path in sorted(p for p in original.rglob("*") if p.is_file()):
        target = renamed / f"{rng.randrange(16**4):04x}" / f"{rng.randrange(16**8):08x}{path.suffix}"
        if path.relative_to(original).parts[0] == "media":  # images are named by their path (`../media/x.png`)
            target = renamed / path.relative_to(original)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    source_path = list(Article.__table__.columns.keys()).index("source_path")
    seen = []
    for name, archive in (("a", original), ("b", renamed)):
        settings = new_store(backend, tmp_path / name)
        try:
            report = load(settings, archive)
            found = rows(settings)
            found["article"] = [r[:source_path] + r[source_path + 1 :] for r in found["article"]]
            seen.append((report.generation, report.articles_loaded, found, public_headers(settings)))
        finally:
            drop_store(settings)
    assert seen[0][1] > 30
    assert seen[0] == seen[1]
