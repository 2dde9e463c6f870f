"""The rules the API states, as properties (Hypothesis) over generated archives on both backends.

Each example writes a small archive of Markdown documents (random statuses, embargo times, aliases, weeks across
month and year boundaries, tied publication times), loads it through the real loader into a store of its own and
queries it through the test client, against an oracle written from the rules in docs/api.md and docs/archive.md:

- visibility: at every clock time, no article that is not public then (draft, retracted, embargoed) and no
  section, trend tag, issue, count, search hit, feed entry or change derived from one shows anywhere;
- pagination: cursor walks in every order, under ties, equal the oracle's order, forward and back, with `prev`
  and `next` links exactly where a previous and a next page exist;
- filters: `year` (an issue belongs to the year it starts in), `from` and `to` across month and year boundaries;
- merge: duplicate copies of one article are served as one, the richest public copy's text winning and only
  public copies lending facts;
- conditional requests (RFC 9110 §13.2.2) and language negotiation (RFC 4647 lookup), over the sample archive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api import clock
from api.languages import negotiate
from tests.conftest import drop_pg_schema, load_archive, make_app, new_pg_schema

# Few examples, and no shrinking (each example loads a store): a failure reports the generated archive as drawn.
# Under mutation testing (tools/mutation.py sets MUTATION_TESTING) every surviving mutant reruns every example, so
# the explicit examples carry the rules there and only a few archives are generated besides; the first failing
# example ends the test (a killed mutant costs one example).
MUTATION_TESTING = bool(os.environ.get("MUTATION_TESTING"))
ARCHIVE_PROPERTY = settings(
    max_examples=4 if MUTATION_TESTING else 15,
    report_multiple_bugs=not MUTATION_TESTING,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SECTIONS = ["security-issues", "ruling-elite", "economy", "canarydraft-desk"]
TRENDS = ["worse", "unchanged", "better", "canarydraft-tag"]
DIRECTION = {"worse": "worse", "unchanged": "unchanged", "better": "better", "canarydraft-tag": "unchanged"}
# Mondays: a week across a month (Jan 29 - Feb 4, 2024), across a year (Dec 29, 2025 - Jan 4, 2026) and plain ones
WEEKS = [dt.date(2024, 1, 29), dt.date(2024, 2, 5), dt.date(2025, 12, 22), dt.date(2025, 12, 29), dt.date(2026, 1, 5)]
BASE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# Few distinct publication times, so that orders run through ties; embargo times around the clock times checked
PUBLISHED = [BASE - dt.timedelta(days=d) for d in (30, 10, 10, 3)]
EMBARGOES = [None, None, BASE - dt.timedelta(days=1), BASE, BASE + dt.timedelta(hours=1), BASE + dt.timedelta(days=2)]
LOADED_AT = BASE - dt.timedelta(days=5)
CLOCKS = [BASE - dt.timedelta(days=2), BASE, BASE + dt.timedelta(hours=1), BASE + dt.timedelta(days=3)]
WORD = "quokka"  # in every generated article: a search for it must find exactly the public ones


@dataclass
class Doc:
    n: int
    status: str = "published"
    embargo: dt.datetime | None = None
    published: dt.datetime = PUBLISHED[0]
    updated: dt.datetime | None = None
    week: dt.date | None = None
    section: str | None = None
    trend: str | None = None
    aliases: list[str] = field(default_factory=list)
    title: str | None = None
    words: int = 3
    caption: str | None = None
    lang: str = "en"
    mentions: int = 1  # of the search word in the body
    authors: list[str] = field(default_factory=list)
    canonical: str | None = None  # canonical_url: the page the article was first published on
    translation_key: str | None = None  # one story's versions in several languages share it
    position: int | None = None  # editorial order in its issue (front matter); None: publication order
    name: str | None = None  # its slug, if not article-<n> (one starting with a digit sorts before the letters)

    @property
    def slug(self) -> str:
        return self.name or f"article-{self.n}"

    @property
    def token(self) -> str:
        return f"tok{self.n}x"  # in this document's title only: its presence in a response reveals the document

    def public(self, now: dt.datetime) -> bool:
        return self.status == "published" and (self.embargo is None or self.embargo <= now)

    def text(self) -> str:
        front = {
            "slug": self.slug,
            "title": f'"{self.title or f"Title {self.token}"}"',
            "lang": self.lang,
            "lead": f'"Lead {WORD} of {self.token}"',
            "status": self.status,
            "published_at": _iso(self.published),
        }
        optional = {
            "issue": self.week and self.week.isoformat(),
            "section": self.section,
            "trend": self.trend,
            "embargo_until": self.embargo and _iso(self.embargo),
            "updated_at": self.updated and _iso(self.updated),
            "aliases": self.aliases and "[" + ", ".join(self.aliases) + "]",
            "image_caption": self.caption and f'"{self.caption}"',
            "image_credit": self.caption and f'"credit of {self.caption}"',
            "authors": self.authors and "[" + ", ".join(f'"{a}"' for a in self.authors) + "]",
            "canonical_url": self.canonical,
            "translation_key": self.translation_key,
            "position": self.position,
        }
        front.update({k: v for k, v in optional.items() if v})
        body = " ".join(["Body", *([WORD] * self.mentions), *(["filler"] * self.words)])
        return "---\n" + "".join(f"{k}: {v}\n" for k, v in front.items()) + "---\n\n" + body + ".\n"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def documents(draw, min_size=1, max_size=9) -> list[Doc]:
    count = draw(st.integers(min_size, max_size))
    docs = []
    for n in range(count):
        status = draw(st.sampled_from(["published", "published", "published", "draft", "retracted"]))
        published = draw(st.sampled_from(PUBLISHED))
        docs.append(
            Doc(
                n=n,
                status=status,
                embargo=draw(st.sampled_from(EMBARGOES)),
                published=published,
                updated=draw(st.sampled_from([None, published + dt.timedelta(hours=5)])),
                week=draw(st.sampled_from([None, *WEEKS, *WEEKS])),
                section=draw(st.sampled_from([None, *SECTIONS, *SECTIONS])),
                trend=draw(st.sampled_from([None, *TRENDS, *TRENDS])),
                aliases=[f"alias-{n}"] if draw(st.booleans()) else [],
                mentions=1 + n % 3,  # search ranks differ, and tie
            )
        )
    return docs


def load_generation(docs: list, archive: Path, settings: dict, at: dt.datetime, vocabulary=None):
    """Replace the archive's documents by `docs` and load them into the store of `settings`, the clock at `at` (one
    generation of a store's history; `vocabulary`: another than data/'s); returns the loader's report."""
    for old in archive.glob("*.md"):
        old.unlink()
    for doc in docs:
        (archive / f"{doc.slug}.md").write_text(doc.text(), encoding="utf-8")
    clock.freeze(at)
    return load_archive(archive, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"], vocabulary=vocabulary)


@contextlib.contextmanager
def store_history(backend: dict, tmp_path: Path):
    """A store of its own on `backend` whose generations a test loads one after another: yields
    load(docs, at, vocabulary=None), which loads a generation (load_generation) and returns the app serving the
    store (made at the first load; it sees every later generation). Afterwards the clock is let go and the app's
    store disposed of."""
    archive = Path(tempfile.mkdtemp(prefix="archive-", dir=tmp_path))
    with own_store(backend, archive) as settings_:
        apps = []

        def load(docs: list, at: dt.datetime, vocabulary=None):
            load_generation(docs, archive, settings_, at, vocabulary)
            if not apps:
                apps.append(make_app(settings_))
            return apps[0]

        try:
            yield load
        finally:
            clock.freeze(None)
            for app in apps:
                app.extensions["store"].dispose()


@contextlib.contextmanager
def own_store(backend: dict, archive: Path):
    """The settings of a store of `archive`'s own on `backend`: a SQLite file beside it, or a fresh PostgreSQL
    schema, dropped afterwards."""
    sqlite = backend["DATABASE_URL"].startswith("sqlite")
    if sqlite:
        settings_ = {**backend, "DATABASE_URL": f"sqlite:///{archive}.sqlite"}
    else:
        settings_ = {**backend, "DATABASE_SCHEMA": new_pg_schema()}
    try:
        yield settings_
    finally:
        if not sqlite:
            drop_pg_schema(settings_["DATABASE_SCHEMA"])


@contextlib.contextmanager
def served(
    backend: dict, tmp_path: Path, docs: list[Doc], loaded_at: dt.datetime = LOADED_AT, files: dict | None = None
):
    """The documents as an archive (with `files`, path: bytes or text, beside them: media, hand-written pages),
    loaded (clock at `loaded_at`) into a store of their own; yields a client (its app: `client.application`)."""
    archive = Path(tempfile.mkdtemp(prefix="archive-", dir=tmp_path))
    for i, doc in enumerate(docs):
        (archive / f"{i:03}-{doc.slug}.md").write_text(doc.text(), encoding="utf-8")
    for name, data in (files or {}).items():
        (archive / name).parent.mkdir(parents=True, exist_ok=True)
        (archive / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    with own_store(backend, archive) as settings_:
        app = None
        try:
            clock.freeze(loaded_at)
            load_archive(archive, settings_["DATABASE_URL"], schema=settings_["DATABASE_SCHEMA"])
            app = make_app(settings_)
            yield app.test_client()
        finally:
            clock.freeze(None)
            if app is not None:
                app.extensions["store"].dispose()


def reverse_heap(app, table: str) -> bool:
    """On PostgreSQL, turn the physical order of `table` in the app's live store around, as VACUUM FULL, CLUSTER or
    pg_repack may leave a table: its rows are deleted and written again, last first, in one transaction, so a
    sequential scan meets them in the reverse order and an index's entries of equal keys (kept in heap order) come
    reversed too. An order left to ties then shows up. False on SQLite, whose unordered reads the tests already
    reverse (conftest) and whose index order breaks ties by rowid, which no physical change moves."""
    engine = app.extensions["store"].current().engine
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="READ COMMITTED") as conn, conn.begin():  # not autocommit
        rows = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY ctid"))]
        columns = ", ".join(conn.scalars(
            text("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                 "AND table_name = :t AND is_generated = 'NEVER' ORDER BY ordinal_position"), {"t": table}
        ))  # fmt: skip
        # the same rows go back: other tables' references to them hold again at the commit, so the foreign keys'
        # triggers may sleep meanwhile (a superuser's setting; the tests' PostgreSQL user is one)
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text(f"CREATE TEMP TABLE reversed ON COMMIT DROP AS SELECT {columns} FROM {table} ORDER BY ctid DESC")
        )
        conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM reversed"))
    with engine.connect() as conn:
        after = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY ctid"))]
    assert after == rows[::-1], table
    return True


def local(url: str | None) -> str | None:
    return url and url.replace("http://localhost", "")


def sync_changes(client, state: dict, query: str, token: str | None, served: list, limit: int = 2) -> str | None:
    """Walk /v1/changes (with `query`: a view) from `token`, `limit` changes a page, applying each to `state` as a
    syncing client does; every change is kept in `served`. Returns the last token."""
    url = "/v1/changes?" + "&".join(p for p in (query, f"limit={limit}", f"since={token}" if token else "") if p)
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.get_json())
        body = resp.get_json()
        for change in body["data"]:
            served.append(change)
            if change["type"] == "upsert":
                state[change["article"]["slug"]] = change["article"]
            else:
                state.pop(change["tombstone"]["slug"], None)
        token = body["meta"]["next"] or token
        url = local(body["links"]["next"]) if body["meta"]["has_more"] else None
    return token


def walk_pages(client, url: str) -> list[dict]:
    """Every page of a collection from `url` on, following `next` (the page bodies, with their Link headers)."""
    pages = []
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.get_json())
        body = resp.get_json()
        body["_link"] = resp.headers.get("Link", "")
        pages.append(body)
        url = local(body["links"]["next"])
    return pages


def items(client, url: str, key: str = "slug") -> list:
    return [item[key] for page in walk_pages(client, url) for item in page["data"]]


# --------------------------------------------------------------------------------------------------- visibility


def _hidden_tokens(docs: list[Doc], now: dt.datetime) -> list[str]:
    return [d.token for d in docs if not d.public(now)]


def _assert_reveals_nothing(resp, hidden: list[str], hidden_slugs: set[str], url: str) -> None:
    text = resp.get_data(as_text=True) + " ".join(resp.headers.get_all("Link"))
    text = text.replace(url.rsplit("/", 1)[-1], "")  # a 404 may repeat the slug it was asked for
    leaked = [t for t in hidden if t in text]
    leaked += [s for s in hidden_slugs if re.search(rf"\b{re.escape(s)}\b(?!-)", text)]
    assert not leaked, (url, leaked)


def path_examples(spec: dict) -> dict[str, set]:
    """Each path parameter's examples in an OpenAPI document, by the path prefix that names it."""
    found: dict[str, set] = {}
    for path, item in spec["paths"].items():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["in"] == "path" and "example" in param:
                    prefix = path[: path.index("{" + param["name"] + "}") + len(param["name"]) + 2]
                    found.setdefault(prefix, set()).add(param["example"])
    return found


def check_visibility(client, docs: list[Doc], now: dt.datetime) -> None:
    public = [d for d in docs if d.public(now)]
    hidden = _hidden_tokens(docs, now)
    hidden_slugs = {d.slug for d in docs if not d.public(now)} | {
        a for d in docs if not d.public(now) for a in d.aliases
    }
    slugs = sorted(d.slug for d in public)

    def get(url: str, status: int = 200):
        resp = client.get(url)
        assert resp.status_code == status, (url, now, resp.status_code, resp.get_data(as_text=True)[:300])
        _assert_reveals_nothing(resp, hidden, hidden_slugs, url)
        return resp

    # articles: the list, its count, each article and alias by slug
    first = get("/v1/articles?limit=3").get_json()
    assert first["meta"]["total"] == len(public)
    assert sorted(items(client, "/v1/articles?limit=3")) == slugs
    for d in docs:
        for slug in [d.slug, *d.aliases]:
            resp = get(f"/v1/articles/{slug}", 200 if d.public(now) else 404)
            if d.public(now):
                data = resp.get_json()["data"]
                assert (data["slug"], data["requested_slug"]) == (d.slug, slug)
                # an alias answers with a canonical link to the article's own slug; the slug itself needs none
                canonical = f'<http://localhost/v1/articles/{d.slug}>; rel="canonical"'
                assert resp.headers.get("Link") == (canonical if slug != d.slug else None), slug
    # search hits
    assert sorted(items(client, f"/v1/articles?q={WORD}&limit=100")) == slugs
    # a search in date order (the filter path, not the ranked one), counted: each public article by the token of
    # its own title; and every list item with its own trend tag
    for d in public:
        found = get(f"/v1/articles?q={d.token}&sort=newest&limit=5").get_json()
        assert ([a["slug"] for a in found["data"]], found["meta"]["total"]) == ([d.slug], 1), d.slug
    listed = {a["slug"]: a for page in walk_pages(client, "/v1/articles?limit=3") for a in page["data"]}
    assert {s: (a["trend"] or {}).get("slug") for s, a in listed.items()} == {d.slug: d.trend for d in public}
    # sections and trend tags: listed with the count of their public articles; one only hidden articles carry is absent
    for kind, attr in (("sections", "section"), ("trends", "trend")):
        expected = {}
        for d in public:
            if getattr(d, attr):
                expected[getattr(d, attr)] = expected.get(getattr(d, attr), 0) + 1
        listed = {x["slug"]: x["article_count"] for x in get(f"/v1/{kind}").get_json()["data"]}
        assert listed == expected, (kind, now)
        for term in SECTIONS if kind == "sections" else TRENDS:
            if term in expected:
                got = items(client, f"/v1/{kind}/{term}/articles?limit=100")
                assert sorted(got) == sorted(d.slug for d in public if getattr(d, attr) == term)
            else:
                get(f"/v1/{kind}/{term}", 404)
                get(f"/v1/{kind}/{term}/articles", 404)
    # issues: the weeks holding a public article, with its count; the latest one; a week of hidden articles is absent
    weeks: dict[str, int] = {}
    for d in public:
        if d.week:
            weeks[d.week.isoformat()] = weeks.get(d.week.isoformat(), 0) + 1
    issues = [i for page in walk_pages(client, "/v1/issues?limit=2") for i in page["data"]]
    assert {i["id"]: i["article_count"] for i in issues} == weeks
    for week in WEEKS:
        resp = get(f"/v1/issues/{week.isoformat()}", 200 if week.isoformat() in weeks else 404)
        if week.isoformat() in weeks:
            listed = [a["slug"] for g in resp.get_json()["data"]["sections"] for a in g["articles"]]
            assert sorted(listed) == sorted(d.slug for d in public if d.week == week)
    get("/v1/issues/latest", 200 if weeks else 404)
    # the trend timeline counts public articles only
    cells = {}
    for d in public:
        if d.week and d.section:  # a cell per issue and section, counting tags by direction (vocabulary.yaml)
            cell = cells.setdefault((d.week.isoformat(), d.section), {"worse": 0, "unchanged": 0, "better": 0})
            if d.trend:
                cell[DIRECTION[d.trend]] += 1
    timeline = get("/v1/trends/timeline").get_json()["data"]
    assert {(c["issue"]["id"], c["section"]["slug"]): c["counts"] for c in timeline} == cells
    # feeds: the public articles, newest first
    feed = get("/v1/feed.json?limit=100").get_json()
    assert sorted(e["url"].rsplit("/", 1)[-1] for e in feed["items"]) == slugs
    get("/v1/feed.atom?limit=100")
    get("/v1/feed.rss?limit=100")
    # changes: one upsert per public article (all loaded at once, before any clock checked), nothing else
    changes = []
    url = "/v1/changes?limit=3"
    while True:
        body = get(url).get_json()
        changes += body["data"]
        if not body["meta"]["has_more"]:
            break
        url = local(body["links"]["next"])
    assert sorted(c["article"]["slug"] for c in changes if c["type"] == "upsert") == slugs
    assert [c for c in changes if c["type"] != "upsert"] == []
    get("/v1")
    # the OpenAPI document's examples name only what a client can fetch now: no hidden article, nor the issue,
    # desk or tag that only hidden articles hold
    in_use = {
        "/v1/articles/{slug}": set(slugs),
        "/v1/issues/{issue_id}": set(weeks),
        "/v1/sections/{slug}": {d.section for d in public if d.section},
        "/v1/trends/{slug}": {d.trend for d in public if d.trend},
    }
    found = path_examples(get("/v1/openapi.json").get_json())
    for prefix, named in found.items():
        assert len(named) == 1 and named <= in_use[prefix], (prefix, named)
    assert {prefix for prefix, things in in_use.items() if things} <= set(found)
    # and which of them (queries.examples): the first article and tag by slug, the newest issue, the first desk in
    # display order (as /v1/sections lists them)
    desks = [x["slug"] for x in get("/v1/sections").get_json()["data"]]
    first = {
        "/v1/articles/{slug}": min(slugs, default=None),
        "/v1/issues/{issue_id}": max(weeks, default=None),
        "/v1/sections/{slug}": desks[0] if desks else None,
        "/v1/trends/{slug}": min(in_use["/v1/trends/{slug}"], default=None),
    }
    assert {p: named for p, named in found.items() if p in first} == {p: {v} for p, v in first.items() if v}


@pytest.fixture
def archive_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@ARCHIVE_PROPERTY
@given(docs=documents())
@example(
    docs=[
        Doc(0, section="canarydraft-desk", trend="canarydraft-tag", week=WEEKS[3], status="draft", aliases=["alias-0"]),
        Doc(1, embargo=BASE, section="economy", trend="worse", week=WEEKS[4], aliases=["alias-1"]),
        Doc(2, section="economy", trend="better", week=WEEKS[3]),
    ]
)
def test_nothing_hidden_ever_shows_at_any_clock_time(backend, archive_dir, docs):
    note(repr(docs))
    with served(backend, archive_dir, docs) as client:
        for now in CLOCKS:  # forward in time, as a running service sees it, across every embargo boundary
            clock.freeze(now)
            check_visibility(client, docs, now)


# --------------------------------------------------------------------------------------------------- pagination

ORDERS = {
    "newest": lambda docs: sorted(docs, key=lambda d: (d.published, d.slug), reverse=True),
    "oldest": lambda docs: sorted(docs, key=lambda d: (d.published, d.slug)),
}


@ARCHIVE_PROPERTY
@given(docs=documents(min_size=0, max_size=9), limit=st.integers(1, 4))
def test_cursor_walks_equal_the_oracle_in_every_order(backend, archive_dir, docs, limit):
    with served(backend, archive_dir, docs) as client:
        clock.freeze(BASE + dt.timedelta(days=3))
        public = [d for d in docs if d.public(BASE + dt.timedelta(days=3))]
        for sort, order in ORDERS.items():
            expected = [d.slug for d in order(public)]
            pages = walk_pages(client, f"/v1/articles?sort={sort}&limit={limit}")
            assert [a["slug"] for p in pages for a in p["data"]] == expected, sort
            chunks = [expected[i : i + limit] for i in range(0, len(expected), limit)] or [[]]
            assert [[a["slug"] for a in p["data"]] for p in pages] == chunks
            for i, page in enumerate(pages):
                last = i == len(pages) - 1
                assert (page["links"]["next"] is None) == last, (sort, i)
                assert (page["links"]["prev"] is None) == (i == 0), (sort, i)
                assert ('rel="next"' in page["_link"]) == (not last)
                assert ('rel="prev"' in page["_link"]) == (i > 0)
                assert page["meta"]["total"] == len(expected)
            # and back from the last page: the same pages in reverse, with a prev link exactly where one exists
            back, url = [], local(pages[-1]["links"]["prev"])
            while url:
                body = client.get(url).get_json()
                back.append([a["slug"] for a in body["data"]])
                assert body["links"]["next"] is not None  # a page reached backwards always has one after it
                url = local(body["links"]["prev"])
            assert back == [[a["slug"] for a in p["data"]] for p in pages[:-1]][::-1], sort
            # page numbers give the same pages
            for number, chunk in enumerate(chunks, start=1):
                resp = client.get(f"/v1/articles?sort={sort}&limit={limit}&page={number}").get_json()
                assert [a["slug"] for a in resp["data"]] == chunk
                assert (resp["links"]["next"] is None) == (number == len(chunks))
                assert (resp["links"]["prev"] is None) == (number == 1)
        # relevance (rank, then slug: keys of mixed directions), under ties: the walk equals the one-page order
        whole = [a["slug"] for a in client.get(f"/v1/articles?q={WORD}&limit=100").get_json()["data"]]
        assert sorted(whole) == sorted(d.slug for d in public)
        pages = walk_pages(client, f"/v1/articles?q={WORD}&limit={limit}")
        assert [a["slug"] for p in pages for a in p["data"]] == whole
        back, url = [], local(pages[-1]["links"]["prev"])
        while url:
            back.append([a["slug"] for a in client.get(url).get_json()["data"]])
            url = local(client.get(url).get_json()["links"]["prev"])
        assert back == [[a["slug"] for a in p["data"]] for p in pages[:-1]][::-1]
        # issues in both orders
        weeks = sorted({d.week.isoformat() for d in public if d.week})
        assert items(client, f"/v1/issues?limit={limit}", "id") == weeks[::-1]
        assert items(client, f"/v1/issues?sort=oldest&limit={limit}", "id") == weeks


# --------------------------------------------------------------------------------------------------- filters


@ARCHIVE_PROPERTY
@given(
    docs=documents(min_size=1, max_size=9),
    day=st.dates(dt.date(2024, 1, 25), dt.date(2026, 1, 12)),
    year=st.sampled_from([2024, 2025, 2026]),
)
@example(docs=[Doc(0, week=WEEKS[3]), Doc(1, week=WEEKS[4]), Doc(2, week=WEEKS[0])], day=dt.date(2026, 1, 1), year=2026)
@example(docs=[Doc(0, week=WEEKS[3]), Doc(1, week=WEEKS[0])], day=dt.date(2024, 2, 4), year=2025)
def test_year_from_and_to_across_month_and_year_boundaries(backend, archive_dir, docs, day, year):
    now = BASE + dt.timedelta(days=3)
    with served(backend, archive_dir, docs) as client:
        clock.freeze(now)
        public = [d for d in docs if d.public(now)]
        weeks = {d.week for d in public if d.week}
        # an issue belongs to the year it starts in; its week runs Monday to Sunday inclusive
        assert items(client, f"/v1/issues?year={year}&limit=100", "id") == sorted(
            (w.isoformat() for w in weeks if w.year == year), reverse=True
        )
        ends_after = {w for w in weeks if w + dt.timedelta(days=6) >= day}
        starts_before = {w for w in weeks if w <= day}
        assert set(items(client, f"/v1/issues?from={day}&limit=100", "id")) == {w.isoformat() for w in ends_after}
        assert set(items(client, f"/v1/issues?to={day}&limit=100", "id")) == {w.isoformat() for w in starts_before}
        covers = [w.isoformat() for w in weeks if w <= day <= w + dt.timedelta(days=6)]
        assert items(client, f"/v1/issues?covers={day}", "id") == covers
        # the article filters: an article is in the range when its issue week overlaps it
        got_from = set(items(client, f"/v1/articles?from={day}&limit=100"))
        assert got_from == {d.slug for d in public if d.week in ends_after}
        got_to = set(items(client, f"/v1/articles?to={day}&limit=100"))
        assert got_to == {d.slug for d in public if d.week in starts_before}
        both = set(items(client, f"/v1/articles?from={day}&to={day}&limit=100"))
        assert both == {d.slug for d in public if d.week in ends_after & starts_before}


# --------------------------------------------------------------------------------------------------- merge


@st.composite
def copies(draw) -> list[Doc]:
    """Two or three copies of one article (same title and language, so the same article to the loader), each
    with its own status, facts and body length (distinct, so that richness never ties)."""
    count = draw(st.integers(2, 3))
    lengths = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count, unique=True))
    out = []
    for n in range(count):
        out.append(
            Doc(
                n=n,
                status=draw(st.sampled_from(["published", "published", "draft", "retracted"])),
                title="One article told three ways",
                words=lengths[n],
                week=draw(st.sampled_from([None, WEEKS[1]])),
                section=draw(st.sampled_from([None, SECTIONS[n]])),
                trend=draw(st.sampled_from([None, TRENDS[n]])),
                caption=draw(st.sampled_from([None, f"caption {n}"])),
            )
        )
    assume(any(d.status == "published" for d in out))
    return out


def _richness(d: Doc) -> tuple:
    return (d.week is not None and d.trend is not None, d.words)


@ARCHIVE_PROPERTY
@given(docs=copies())
@example(
    docs=[
        Doc(0, status="published", title="One article told three ways", words=3),
        Doc(
            1, status="draft", title="One article told three ways", words=9, caption="caption 1", section="ruling-elite"
        ),
    ]
)
def test_merge_richest_public_copy_wins_and_hidden_copies_lend_nothing(backend, archive_dir, docs):
    with served(backend, archive_dir, docs) as client:
        clock.freeze(BASE)
        listed = items(client, "/v1/articles?limit=100")
        assert len(listed) == 1, listed  # one article, served
        data = client.get(f"/v1/articles/{listed[0]}?format=blocks").get_json()["data"]
        public = [d for d in docs if d.status == "published"]
        best = max(public, key=_richness)
        assert data["lead"] == f"Lead {WORD} of {best.token}"  # the richest public copy's text
        assert data["body"]["blocks"][0]["text"].count("filler") == best.words
        for name, value in (
            ("section", (data["section"] or {}).get("slug")),
            ("trend", (data["trend"] or {}).get("slug")),
            ("caption", (data["image"] or {}).get("caption")),
            ("week", data["issue"] and dt.date.fromisoformat(data["issue"])),
        ):
            offered = [getattr(d, name) for d in public if getattr(d, name) is not None]
            if getattr(best, name) is not None:
                assert value == getattr(best, name), name  # the winner keeps its own facts
            elif offered:
                assert value in offered, name  # lent by a public copy
            else:
                assert value is None, name  # no public copy has it: a hidden one lends nothing
        for d in docs:
            if d.status != "published":
                assert d.token not in str(data)


# --------------------------------------------------------------------------------------------------- conditional requests

CONDITIONAL_URLS = ["/v1/articles?limit=2", "/v1/sections", "/v1/issues/2022-02-14", "/v1/articles/no-such-article"]
LANGS = [None, "en", "ru", "be", "ru;q=0.5, be;q=0.5"]


@st.composite
def conditions(draw, urls=tuple(CONDITIONAL_URLS)):
    inm = draw(st.sampled_from([None, "*", "current", "current-weak-stripped", "other-lang", "list", "garbage", ""]))
    ims = draw(st.sampled_from([None, "before", "equal", "after", "garbage"]))
    return inm, ims, draw(st.sampled_from(LANGS)), draw(st.sampled_from(LANGS)), draw(st.sampled_from(urls))


@FAST_PROPERTY
@given(case=conditions())
@example(case=("other-lang", "after", "ru", "en", "/v1/articles?limit=2"))
def test_conditional_requests_follow_rfc_9110_precedence(client, case):
    """§13.2.2: If-None-Match, when present, decides alone (If-Modified-Since is then ignored); a tag matches only
    the representation it was issued for (another language's tag does not); `*` matches any current one."""
    check_conditional(client, case)


def check_conditional(client, case) -> None:
    """One conditional request (`case` drawn by conditions()) against the oracle of RFC 9110 §13.2.2."""
    inm_kind, ims_kind, lang, other_lang, url = case

    def headers(accept):
        return {"Accept-Language": accept} if accept else {}

    plain = client.get(url, headers=headers(lang))
    exists = "no-such" not in url  # every other URL names a resource of the archive
    assert plain.status_code == (200 if exists else 404), (url, plain.status_code)
    etag, modified = plain.headers.get("ETag"), plain.headers.get("Last-Modified")
    other = client.get(url, headers=headers(other_lang)).headers.get("ETag")
    same_representation = negotiate(lang) == negotiate(other_lang)
    send = headers(lang)
    tag_matches = False
    if inm_kind is not None and exists:
        value = {
            "*": "*",
            "current": etag,
            "current-weak-stripped": etag.removeprefix("W/"),
            "other-lang": other,
            "list": f'"nope", {etag}, "also-nope"',
            "garbage": '"not-a-tag-we-issued"',
            "": "",
        }[inm_kind]
        send["If-None-Match"] = value
        tag_matches = inm_kind in ("*", "current", "current-weak-stripped", "list") or (
            inm_kind == "other-lang" and same_representation
        )
    elif inm_kind is not None:
        send["If-None-Match"] = "*" if inm_kind == "*" else '"x"'
    if ims_kind is not None:
        if modified:
            lm = email.utils.parsedate_to_datetime(modified)
            offset = {"before": -60, "equal": 0, "after": 60, "garbage": None}[ims_kind]
            send["If-Modified-Since"] = (
                "not a date"
                if offset is None
                else email.utils.format_datetime(lm + dt.timedelta(seconds=offset), usegmt=True)
            )
        else:
            send["If-Modified-Since"] = "Sun, 06 Nov 1994 08:49:37 GMT"
    resp = client.get(url, headers=send)
    if not exists:
        assert resp.status_code == plain.status_code  # nothing to compare with: a 404 stays a 404
        return
    if "If-None-Match" in send:
        expected = 304 if tag_matches else 200
    elif ims_kind in ("equal", "after"):
        expected = 304
    else:
        expected = 200
    assert resp.status_code == expected, (send, etag, other)
    assert resp.headers["ETag"] == etag
    if expected == 304:
        assert resp.data == b""


# --------------------------------------------------------------------------------------------------- languages

SUPPORTED = ("en", "ru", "be")
RANGE_TAGS = ["en", "ru", "be", "EN", "en-GB", "ru-RU", "be-BY", "be-Latn", "de", "fr", "uk", "*", "x-y", "enx"]


def oracle_language(ranges: list[tuple[str, float | None]]) -> str:
    """RFC 4647 lookup over primary subtags, scored per language: a language's weight is the highest q of the
    ranges naming it (any q=0 among them refuses it), else the q of `*` if there is one; the highest weight wins,
    equal weights go to the range the client listed first, and a tie inside `*` to the default, then ru, be."""
    parsed = [(tag.lower(), 1.0 if q is None else q, pos) for pos, (tag, q) in enumerate(ranges)]
    best = None
    for order, lang in enumerate(["en", "ru", "be"]):
        naming = [(q, pos) for tag, q, pos in parsed if tag != "*" and tag.split("-")[0] == lang]
        if naming:
            if any(q == 0 for q, _ in naming):
                continue
            q, pos = max(naming, key=lambda r: (r[0], -r[1]))
        else:
            star = [(q, pos) for tag, q, pos in parsed if tag == "*"]
            if not star:
                continue
            q, pos = star[0]
            if q == 0:
                continue
        score = (q, -pos, -order)
        if best is None or score > best[0]:
            best = (score, lang)
    return best[1] if best else "en"


def _header(ranges: list[tuple[str, float | None]]) -> str:
    return ", ".join(tag if q is None else f"{tag};q={q:g}" for tag, q in ranges)


language_ranges = st.lists(
    st.tuples(st.sampled_from(RANGE_TAGS), st.sampled_from([None, 1.0, 0.9, 0.5, 0.5, 0.1, 0.0])), max_size=5
)


@FAST_PROPERTY
@given(ranges=language_ranges)
@example(ranges=[("ru", 0.5), ("be", 0.5)])  # equal q: the earlier range wins
@example(ranges=[("be", 0.5), ("ru", 0.5)])
@example(ranges=[("*", 0.5), ("ru", 0.5)])
@example(ranges=[("ru", 0.0), ("*", None)])
@example(ranges=[("*", None), ("ru", 0.5), ("be", 0.4), ("en", 0.1)])  # `*` stands for none: the next range decides
@example(ranges=[("*", None), ("en-GB", 0.5)])  # en is named (by its region): `*` stands for the others
def test_language_negotiation_is_rfc_4647_lookup(ranges):
    star = [q for t, q in ranges if t == "*"]
    assume(len(star) <= 1)  # two `*` ranges: the RFC leaves their combination open
    assert negotiate(_header(ranges)) == oracle_language(ranges)


def test_language_range_with_a_malformed_q_is_ignored():
    assert negotiate("ru;q=0.5=1, be;q=0.9") == "be"
    assert negotiate("ru;q=1.5, be;q=0.1") == "be"


@FAST_PROPERTY
@given(ranges=language_ranges, data=st.data())
def test_language_negotiation_ignores_malformed_ranges(ranges, data):
    assume(len([t for t, _ in ranges if t == "*"]) <= 1)
    junk = data.draw(
        st.sampled_from(["", ";q=0.5", "en;q=abc", "ru;q=2", "be;q=0.1234", "123", "a b", "ru;q=0.5=1", "be;q=1.5"])
    )
    at = data.draw(st.integers(0, len(ranges)))
    parts = [p for p in _header(ranges).split(", ") if p]
    parts.insert(at, junk)
    assert negotiate(", ".join(parts)) == oracle_language(ranges)


def test_negotiated_language_is_served_with_its_own_tag(client):
    for header, lang in (("ru;q=0.5, be;q=0.5", "ru"), ("be;q=0.5, ru;q=0.5", "be"), ("de, *;q=0.3", "en")):
        resp = client.get("/v1/sections", headers={"Accept-Language": header})
        assert resp.headers["Content-Language"] == lang


# --------------------------------------------------------------------------------------------------- cursor errors


def test_cursor_errors_are_problems_naming_the_cursor(client):
    """Each way a cursor can be refused is a 400 problem with its own message and a reason under `cursor`/`page`."""
    nxt = client.get("/v1/articles?limit=2").get_json()["links"]["next"]
    cursor = nxt.split("cursor=")[1].split("&")[0]
    cases = {
        f"/v1/articles?limit=2&section=economy&cursor={cursor}": (
            "This cursor belongs to another order or other filters.",
            [{"name": "cursor", "reason": "mismatched cursor"}],
        ),
        f"/v1/articles?limit=2&sort=oldest&cursor={cursor}": (
            "This cursor belongs to another order or other filters.",
            [{"name": "cursor", "reason": "mismatched cursor"}],
        ),
        "/v1/articles?limit=2&cursor=bm90LWpzb24": (
            "The cursor is not one this API issued.",
            [{"name": "cursor", "reason": "invalid cursor"}],
        ),
        f"/v1/articles?limit=2&page=2&cursor={cursor}": (
            "Use either cursor or page, not both.",
            [{"name": "page", "reason": "cannot be combined with cursor"}],
        ),
    }
    for url, (detail, params) in cases.items():
        body = client.get(url).get_json()
        assert (body["status"], body["detail"], body["invalid_params"]) == (400, detail, params), url
    assert client.get(f"/v1/articles?limit=2&cursor={cursor}").status_code == 200
