"""The duplicate merge, against an oracle written from its rules (api/ingest/merge.py, docs/archive.md): which
copies are one article, which copy wins, what each duplicate may lend it, the ids, positions, aliases and URLs
the plan gives, and the hidden copies it reports.

Fast and without a store: every test drives the scratch index directly, so the mutation group of merge.py runs
this file for every mutant (the loader and the API are covered by tests/test_merges.py on both backends)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest import merge
from api.ingest.merge import (
    Index,
    content_digest,
    identity_keys,
    in_batches,
    may_lend,
    richness,
    visible_from,
)
from api.ingest.records import BULK_IMPORTED, ArticleRecord

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
PAST, SOON, LATER = NOW - dt.timedelta(days=3), NOW + dt.timedelta(days=3), NOW + dt.timedelta(days=30)
NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)
MONDAYS = (dt.date(2026, 5, 4), dt.date(2026, 5, 11))
STAMPS = (dt.datetime(2026, 5, 5, 9, 30, 15), dt.datetime(2026, 5, 5, 9, 30, 45), dt.datetime(2026, 5, 12, 8, 0))
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def record(**fields) -> ArticleRecord:
    base = {"path": "a.md", "line": 1, "source": "document", "slug": "an-article", "title": "An article", "lead": "L"}
    return ArticleRecord(**{**base, **fields})


# ---------------------------------------------------------------- the small rules


def test_identity_keys_are_slug_url_slugs_title_and_translation_key_within_the_language():
    rec = record(
        slug="budget", title="Budget: Deficit Widens!", lang="ru", translation_key="tk1",
        urls=["https://a.org/politics/budget-2022/?page=2", "http://b.org/x/Other_Slug", "https://a.org/"],
    )  # fmt: skip
    assert identity_keys(rec) == {
        "slug:ru:budget",
        "slug:ru:budget-2022",
        "slug:ru:other-slug",
        "title:ru:budget-deficit-widens",
        "tk:ru:tk1",
    }
    assert identity_keys(record(slug="s", title="T")) == {"slug:en:s", "title:en:t"}
    assert merge._url_slug("https://a.org/a/b//") == "b" and merge._url_slug("https://a.org/a/b/Last?x=1") == "last"
    assert merge._url_slug("https://a.org/only") == "only"
    assert merge._url_slug("https://a.org/") is None and merge._url_slug("https://a.org") is None


def test_richness_orders_week_and_trend_then_untruncated_then_document_then_length():
    rec = record(
        lead="12345",
        blocks=[{"type": "paragraph", "text": "abc"}, {"type": "list", "items": ["de", "f"]}, {"type": "image"}],
        week_start=MONDAYS[0], trend="worse", source="capture", truncated=True,
    )  # fmt: skip
    assert richness(rec) == (True, False, False, 5 + 3 + 3, content_digest(rec))
    assert richness(record(week_start=MONDAYS[0]))[:4] == (False, True, True, 1)
    assert richness(record(trend="worse"))[:3] == (False, True, True)


def test_the_content_digest_ignores_where_the_file_lies_and_nothing_else():
    rec = record(lead="x", section="economy")
    digest = content_digest(rec)
    assert digest == hashlib.sha256(orjson.dumps(record(lead="x", section="economy", path="", line=0))).hexdigest()
    assert content_digest(record(lead="x", section="economy", path="other/b.md", line=40)) == digest
    assert content_digest(record(lead="y", section="economy")) != digest
    assert content_digest(record(lead="x", section="politics")) != digest
    assert rec.path == "a.md" and rec.line == 1  # the record itself is left alone


def test_visible_from_and_may_lend():
    assert visible_from("published", None, NOW) == NOW
    assert visible_from("published", PAST.isoformat(), NOW) == NOW
    assert visible_from("published", SOON.isoformat(), NOW) == SOON
    assert visible_from("draft", None, NOW) is None and visible_from("retracted", PAST.isoformat(), NOW) is None
    assert may_lend(None, None) and may_lend(NOW, None) and may_lend(SOON, None)
    assert may_lend(NOW, NOW) and may_lend(NOW, SOON) and may_lend(SOON, SOON)
    assert not may_lend(SOON, NOW) and not may_lend(None, NOW) and not may_lend(None, SOON)


@pytest.mark.parametrize("count", [0, 1, 499, 500, 501, 1000, 1201])
def test_in_batches_hands_on_every_row_at_most_a_batch_at_a_time(count):
    batches = []
    in_batches(iter(range(count)), batches.append)
    assert [len(b) for b in batches] == [500] * (count // 500) + ([count % 500] if count % 500 else [])
    assert [row for b in batches for row in b] == list(range(count))


# ---------------------------------------------------------------- the oracle


def _visible(copy: dict) -> dt.datetime | None:
    if copy["status"] != "published":
        return None
    return max(NOW, copy["embargo"]) if copy["embargo"] else NOW


def _text_len(rec: ArticleRecord) -> int:
    return len(rec.lead) + sum(len(b.get("text", "")) + sum(len(i) for i in b.get("items", [])) for b in rec.blocks)


def _rank(copy: dict, rec: ArticleRecord) -> tuple:
    start = _visible(copy)
    rich = (rec.week_start is not None and rec.trend is not None, not rec.truncated, rec.source == "document")
    return (start is not None, -(start or NEVER).timestamp(), *rich, _text_len(rec), content_digest(rec))


COPY = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["document", "capture"]),
        "variant": st.sampled_from(["", "-v2"]),
        "status": st.sampled_from(["published", "published", "draft", "retracted"]),
        "embargo": st.sampled_from([None, PAST, SOON, LATER]),
        "section": st.sampled_from([None, "", "politics", "security"]),
        "trend": st.sampled_from([None, "worse", "better"]),
        "week": st.sampled_from([None, *MONDAYS]),
        "week_source": st.sampled_from(["document", "printed", "timestamp"]),
        "stamp": st.sampled_from([None, *STAMPS]),
        "caption": st.booleans(),
        "credit": st.booleans(),
        "truncated": st.booleans(),
        "length": st.integers(1, 3),
        "items": st.integers(0, 2),
        "position": st.sampled_from([None, None, 1, 2]),
        "aliases": st.integers(0, 2),
    }
)
ARCHIVE = st.lists(st.lists(COPY, min_size=1, max_size=4), min_size=1, max_size=3)


def _records(archive: list[list[dict]]) -> list[tuple[int, int, dict, ArticleRecord]]:
    """(article, copy number, copy, record): an article's copies share its title and nothing with the others'."""
    out = []
    n = 0
    for a, copies in enumerate(archive):
        for copy in copies:
            slug = f"art{a}{copy['variant']}"
            rec = record(
                path=f"dir/{n:02d}.md",
                source=copy["source"],
                slug=slug,
                title=f"Article number {a}",
                lead="word " * copy["length"],
                blocks=[{"type": "paragraph", "text": "body"}, {"type": "list", "items": ["i"] * copy["items"]}],
                section=copy["section"],
                trend=copy["trend"],
                week_start=copy["week"],
                week_source=copy["week_source"] if copy["week"] else None,
                timestamp=copy["stamp"],
                image_caption=f"caption {n}" if copy["caption"] else None,
                image_credit=f"credit {n}" if copy["credit"] else None,
                status=copy["status"],
                embargo_until=copy["embargo"],
                truncated=copy["truncated"],
                position=copy["position"],
                urls=[f"https://a.org/x/{slug}", f"https://b.org/y/url-{n}"] if copy["source"] == "capture" else [],
                aliases=[f"alias-{n}-{k}" for k in range(copy["aliases"])],
            )
            out.append((a, n, copy, rec))
            n += 1
    return out


def _iso(value):
    return value.isoformat() if value is not None else None


def _expected(archive: list[list[dict]], bulk: set[str]) -> dict:
    rows = _records(archive)
    plans, hidden = [], []
    for a in range(len(archive)):
        mine = sorted((r for r in rows if r[0] == a), key=lambda r: _rank(r[2], r[3]), reverse=True)
        best = mine[0]
        best_from = _visible(best[2])
        lenders = [r for r in mine if best_from is None or (_visible(r[2]) is not None and _visible(r[2]) <= best_from)]
        for r in mine:
            if r not in lenders:
                hidden.append(f"{best[3].slug}: {r[3].path} ({r[3].status}) lends nothing to {best[3].path}")
        facts = {}
        for name in ("section", "trend", "image_caption", "image_credit"):
            # the winner's own value, else the first a duplicate has, in the winner rule's order
            facts[name] = getattr(best[3], name)
            for r in lenders[1:]:
                facts[name] = facts[name] or getattr(r[3], name)
        dated = next((r[3] for r in lenders if r[3].week_start is not None), best[3])
        facts["week_start"], facts["week_source"], facts["timestamp"] = (
            _iso(dated.week_start), dated.week_source, _iso(dated.timestamp),
        )  # fmt: skip
        stamp = facts["timestamp"] and facts["timestamp"][:16].replace("T", " ")
        if facts["week_source"] == "timestamp" and stamp in bulk:
            facts["week_start"], facts["week_source"] = None, BULK_IMPORTED
        plans.append({"best": best, "lenders": lenders, "members": len(mine), **facts})
    plans.sort(key=lambda p: p["best"][3].slug)
    slugs = {p["best"][3].slug for p in plans}
    for i, p in enumerate(plans, 1):
        p["id"] = i
    # positions: the document's, else the order of publication (stamp, then slug) within (week, section)
    for p in plans:
        if p["best"][3].position:
            p["position"] = p["best"][3].position
        else:
            peers = [q for q in plans if not q["best"][3].position and (q["week_start"], q["section"]) == (
                p["week_start"], p["section"])]  # fmt: skip
            peers.sort(key=lambda q: (q["timestamp"] is None, q["timestamp"] or "", q["best"][3].slug))
            p["position"] = peers.index(p) + 1
    aliases: dict[str, tuple] = {}
    for p in plans:
        sources = []
        for r in p["lenders"]:
            rec = r[3]
            for seq, url in enumerate(rec.urls or [None]):
                sources.append((0, url or "", seq, merge._url_slug(url) if url else rec.slug, url))
            if r is p["best"]:
                sources += [(1, "", seq, alias, None) for seq, alias in enumerate(rec.aliases)]
        for declared, url_key, seq, slug, url in sources:
            if slug and slug not in slugs:
                key = (p["id"], declared, url_key, seq)
                if slug not in aliases or key < aliases[slug][0]:
                    aliases[slug] = (key, (slug, p["id"], url))
    urls = sorted(
        {(url, p["id"]) for p in plans for r in p["lenders"] for url in r[3].urls}, key=lambda u: (u[1], u[0])
    )
    return {
        "articles": [
            {
                "id": p["id"],
                "slug": p["best"][3].slug,
                "position": p["position"],
                "best": p["best"][1],
                "members": p["members"],
                "rel": p["best"][3].path,
                **{k: p[k] for k in merge._LENT},
            }  # fmt: skip
            for p in plans
        ],
        "aliases": sorted((v[1] for v in aliases.values()), key=lambda t: (t[1], t[0])),
        "urls": urls,
        "hidden": sorted(hidden),
    }


@contextlib.contextmanager
def grouped(recs, prefix: Path = Path()):
    """A scratch merge index holding `recs` (added under prefix / rec.path), grouped; closed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        index = Index(scratch)
        try:
            for rec in recs:
                index.add(prefix / rec.path, rec)
            index.group()
            yield index
        finally:
            index.close()


def _plan(archive: list[list[dict]], bulk: set[str]) -> dict:
    with grouped([rec for _a, _n, _copy, rec in _records(archive)], Path("/archive")) as index:
        index.plan(bulk, NOW)
        articles = []
        for row in index.articles():
            members, rel = index.one("SELECT members, rel FROM article_plan WHERE id = ?", row["id"])
            winner = orjson.loads(row.pop("record"))
            # the copy number is the name of the file the winning record came from
            articles.append({**row, "best": int(Path(winner["path"]).stem), "members": members, "rel": rel})
        return {
            "articles": articles,
            "aliases": list(index.aliases()),
            "urls": list(index.urls()),
            "hidden": index.hidden_copies,
            "renamed": index.renamed,
        }


@PROPERTY
@given(archive=ARCHIVE, bulk=st.sampled_from([set(), {"2026-05-05 09:30"}, {"2026-05-12 08:00", "2026-05-05 09:30"}]))
def test_the_plan_equals_the_oracle(archive, bulk):
    expected = _expected(archive, bulk)
    got = _plan(archive, bulk)
    assert got["articles"] == expected["articles"]
    assert got["aliases"] == expected["aliases"]
    assert got["urls"] == expected["urls"]
    assert got["hidden"] == expected["hidden"]
    assert got["renamed"] == []


def test_a_hidden_winner_takes_what_its_duplicates_have():
    # No copy ever public: the richest wins, and every copy may lend it (nothing of it is shown to anyone).
    archive = [
        [
            {**_PLAIN, "status": "draft", "section": "politics"},
            {**_PLAIN, "status": "retracted", "trend": "worse", "length": 3},
            {**_PLAIN, "status": "draft", "week": MONDAYS[1], "caption": True},
        ]
    ]
    (article,) = _plan(archive, set())["articles"]
    assert article["best"] == 1  # the longest
    assert (article["section"], article["trend"], article["week_start"], article["image_caption"]) == (
        "politics", "worse", MONDAYS[1].isoformat(), "caption 2",
    )  # fmt: skip


_PLAIN = {
    "source": "document", "variant": "", "status": "published", "embargo": None, "section": None, "trend": None,
    "week": None, "week_source": "document", "stamp": None, "caption": False, "credit": False, "truncated": False,
    "length": 1, "items": 0, "position": None, "aliases": 0,
}  # fmt: skip


def test_a_winner_without_a_week_takes_the_first_week_lent_with_its_source_and_stamp():
    archive = [
        [
            {**_PLAIN, "length": 3, "stamp": STAMPS[0]},  # richest, no week: takes the week of a duplicate
            {**_PLAIN, "week": MONDAYS[1], "week_source": "printed", "stamp": None},
            {**_PLAIN, "length": 2, "week": MONDAYS[0], "week_source": "timestamp", "stamp": STAMPS[2]},
        ]
    ]
    (article,) = _plan(archive, set())["articles"]
    assert (article["best"], article["week_start"], article["week_source"], article["timestamp"]) == (
        0, MONDAYS[0].isoformat(), "timestamp", STAMPS[2].isoformat(),
    )  # fmt: skip


def test_a_bulk_import_stamp_gives_no_week():
    # the week came from the canonical-view stamp, and that minute is a bulk import's: no week, none known
    copy = {**_PLAIN, "week": MONDAYS[0], "week_source": "timestamp", "stamp": STAMPS[0]}
    (article,) = _plan([[copy]], {"2026-05-05 09:30"})["articles"]
    assert (article["week_start"], article["week_source"], article["timestamp"]) == (
        None, BULK_IMPORTED, STAMPS[0].isoformat(),
    )  # fmt: skip
    # another minute, or a week printed on the page, keeps its week
    for other, bulk in ((copy, {"2026-05-05 09:31"}), ({**copy, "week_source": "printed"}, {"2026-05-05 09:30"})):
        (article,) = _plan([[other]], bulk)["articles"]
        assert (article["week_start"], article["week_source"]) == (MONDAYS[0].isoformat(), other["week_source"])


def test_copies_joined_through_others_are_one_article():
    # a -(slug)- b -(title)- c -(translation key)- d -(url slug)- e: one article, however far apart
    recs = [
        record(path="a.md", slug="one", title="First"),
        record(path="b.md", slug="one", title="Second"),
        record(path="c.md", slug="three", title="Second", translation_key="k"),
        record(
            path="d.md",
            slug="four",
            title="Fourth",
            translation_key="k",
            source="capture",
            urls=["https://a.org/x/five"],
        ),  # fmt: skip
        record(path="e.md", slug="five", title="Fifth"),
        record(path="f.md", slug="six", title="Sixth"),
        record(path="g.md", slug="five", title="Fifth", lang="ru"),
    ]
    for order in (range(7), reversed(range(7))):
        with tempfile.TemporaryDirectory() as scratch:
            index = Index(scratch)
            try:
                for i in order:
                    index.add(Path(recs[i].path), recs[i])
                index.group()
                groups = index.rows("SELECT rel, grp FROM capture ORDER BY rel")
                by_group: dict[int, set] = {}
                groups_of = {}
                for rel, grp in groups:
                    by_group.setdefault(grp, set()).add(rel)
                    groups_of[rel] = grp
                assert sorted(map(sorted, by_group.values())) == [
                    ["a.md", "b.md", "c.md", "d.md", "e.md"], ["f.md"], ["g.md"],
                ]  # fmt: skip
                assert list(index.rows("SELECT rel FROM capture WHERE grp = ? ORDER BY rel", groups_of["f.md"])) == [
                    ("f.md",)
                ]
                # the group is named by its lowest index
                assert {min(index.one("SELECT idx FROM capture WHERE rel = ?", r)[0] for r in g)
                        for g in by_group.values()} == set(by_group)  # fmt: skip
            finally:
                index.close()


def test_bulk_stamps_count_each_article_once_by_its_earliest_timestamp(monkeypatch):
    seen = []
    monkeypatch.setattr(merge, "bulk_import_stamps", lambda stamps, rule: seen.append((sorted(stamps), rule)) or [])
    recs = [
        record(path="a.md", slug="a", title="A", week_source="timestamp", timestamp=STAMPS[1]),
        record(path="b.md", slug="a", title="A2", week_source="timestamp", timestamp=STAMPS[0]),
        record(path="c.md", slug="c", title="C", week_source="timestamp", timestamp=STAMPS[2]),
        record(path="d.md", slug="d", title="D", week_source="printed", timestamp=STAMPS[2]),
        record(path="e.md", slug="e", title="E", week_source="timestamp"),
    ]
    with grouped(recs) as index:
        rule = object()
        assert index.bulk_stamps(rule) == []
        assert seen == [([STAMPS[0], STAMPS[2]], rule)]


def test_one_slug_in_several_languages_is_kept_by_the_document_then_the_first_language():
    def plan(recs):
        with grouped(recs) as index:
            index.plan(set(), NOW)
            return [(a["slug"], orjson.loads(a["record"])["lang"]) for a in index.articles()], index.renamed

    three = [
        record(path="be.md", slug="s", title="Be", lang="be"),
        record(path="ru.md", slug="s", title="Ru", lang="ru"),
        record(path="en.md", slug="s", title="En", lang="en", source="capture"),
    ]
    assert plan(three) == (
        [("s", "ru"), ("s-be", "be"), ("s-en", "en")],  # the documents first: Russian before Belarusian
        ["s (be) -> s-be", "s (en) -> s-en"],
    )
    assert plan(three[:2]) == ([("s", "ru"), ("s-be", "be")], ["s (be) -> s-be"])
    assert plan([three[0], record(path="en.md", slug="s", title="En", lang="en")]) == (
        [("s", "en"), ("s-be", "be")], ["s (be) -> s-be"],
    )  # fmt: skip
    two = [record(path="a.md", slug="s", title="A"), record(path="b.md", slug="s", title="B", lang="ru",
                                                           translation_key="k")]  # fmt: skip
    assert plan(two)[1] == ["s (ru) -> s-ru"]


def test_many_articles_are_planned_in_batches():
    recs = [record(path=f"{n:04d}.md", slug=f"a{n:04d}", title=f"T {n}", position=None) for n in range(1203)]
    with grouped(recs) as index:
        index.plan(set(), NOW)
        articles = list(index.articles())
        assert [a["slug"] for a in articles] == [f"a{n:04d}" for n in range(1203)]
        assert [a["id"] for a in articles] == list(range(1, 1204))
        assert [a["position"] for a in articles] == list(range(1, 1204))
        assert len(list(index.aliases())) == 0 and index.one("SELECT count(*) FROM lender")[0] == 1203


def test_the_passes_over_every_capture_read_the_groups_from_an_index_not_a_sort():
    """bulk_stamps() and plan() each walk every capture of the archive group by group; after group() that walk is
    a scan of an index in group order, so it costs no sort of the whole archive (a temporary B-tree as large as the
    archive, rebuilt on every load). Checked on the SQL the two passes actually send, as SQLite plans it."""
    recs = [record(path=f"{n:02d}.md", slug=f"s{n % 7}", title=f"T {n}", week_source="timestamp",
                   timestamp=STAMPS[n % 3]) for n in range(30)]  # fmt: skip
    with grouped(recs) as index:
        sent: list[str] = []
        index.db.set_trace_callback(sent.append)
        index.bulk_stamps()
        index.plan(set(), NOW)
        index.db.set_trace_callback(None)
        walks = [sql for sql in sent if sql.lstrip().upper().startswith("SELECT") and " FROM CAPTURE " in sql.upper()]
        assert len(walks) == 2, sent  # the bulk-stamp pass and the winner pass
        for sql in walks:
            plan = " ".join(row[-1] for row in index.rows(f"EXPLAIN QUERY PLAN {sql}"))
            assert "TEMP B-TREE" not in plan, (sql, plan)
        assert len(list(index.articles())) == 7


@pytest.mark.parametrize("order", [("a.md", "b.md", "c.md"), ("c.md", "b.md", "a.md"), ("b.md", "c.md", "a.md")])
def test_of_byte_identical_copies_the_first_path_wins_whatever_the_read_order(order):
    """Two copies with the same content tie on every rank and on the digest: the path decides (the first in path
    order), never the order files are read in. It shows in the winner's `rel` (the stored `source_path`) and in the
    hidden-copies line of a draft beside them."""
    same = {"slug": "twin", "title": "Twin", "lead": "Same lead"}
    recs = {"a.md": record(path="a.md", **same), "b.md": record(path="b.md", **same),
            "c.md": record(path="c.md", **{**same, "status": "draft", "lead": "A draft"})}  # fmt: skip
    assert content_digest(recs["a.md"]) == content_digest(recs["b.md"])
    with grouped([recs[name] for name in order]) as index:
        index.plan(set(), NOW)
        (rel,) = index.one("SELECT rel FROM article_plan")
        assert (rel, index.hidden_copies) == ("a.md", ["twin: c.md (draft) lends nothing to a.md"])


def test_an_embargoed_winner_takes_what_a_copy_under_the_same_embargo_has():
    """A duplicate under the winner's own embargo is public whenever the winner is: it lends (a later embargo, or
    a draft, lends nothing). The winner's embargo, not the load time, is what a lender is compared with."""
    archive = [
        [
            {**_PLAIN, "embargo": SOON, "length": 3},  # the winner: richest of the equally visible
            {**_PLAIN, "embargo": SOON, "section": "politics"},
            {**_PLAIN, "embargo": LATER, "trend": "worse"},
            {**_PLAIN, "status": "draft", "caption": True},
        ]
    ]
    plan = _plan(archive, set())
    (article,) = plan["articles"]
    assert (article["best"], article["section"], article["trend"], article["image_caption"]) == (
        0,
        "politics",
        None,
        None,
    )
    assert len(plan["hidden"]) == 2
