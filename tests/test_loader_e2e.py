"""The loader end to end on both backends: every capture fixture through `load_archive` into a store, read back
through the API; duplicates and aliases, weeks, bulk-import stamps, skips and the report; idempotent reloads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, FIXTURES, SEED_SLUG, drop_pg_schema, make_app, new_pg_schema
from tests.test_captures import EXPECTED, SEED
from tests.test_loader import TABLES

CAPTURES = FIXTURES / "captures"
# One fixture per layout and printed form; the duplicates and bulk-import captures have tests of their own.
LAYOUTS = sorted(name for name in EXPECTED if not name.startswith(("dup_", "bulk_")))
DUPLICATE_SLUG = "lukashenka-reshuffles-the-security-council"
DUPLICATE_FILES = sorted(p.name for p in CAPTURES.glob("dup_*.txt") if p.name != "dup_layout3_old_url.txt")
DUPLICATE_URLS = (
    "https://situation.example.org/security-issues/lukashenka-reshuffles-the-security-council",
    "http://www.situation.example.org/security-issues/lukashenka-reshuffles-the-security-council",
    "https://situation.example.org/security-issues/lukashenka-reshuffles-the-security-council?page=2",
    "http://old.situation-belarus.example.net/en/security/lukashenka-reshuffles-the-security-council",
    "http://old.situation-belarus.example.net/en/issue/march-13-march-19-2017/lukashenka-reshuffles-the-security-council",
)
BULK = tuple(f"bulk_import_{key}.txt" for key in "abcdefghi")
ENDPOINTS = (
    "/v1/issues",
    "/v1/issues/2023-07-31",
    "/v1/issues/latest",
    "/v1/articles",
    "/v1/articles?section=economy&limit=3",
    f"/v1/articles/{DUPLICATE_SLUG}",
    "/v1/articles/government-reshuffle-security-officials",
    "/v1/sections",
    "/v1/trends",
    "/v1/trends/timeline",
    "/v1/feed.atom",
    "/v1/changes",
)


def fixture_archive(parent: Path) -> Path:
    """Every capture fixture plus the real seed capture, as one archive directory."""
    archive = parent / "captures"
    shutil.copytree(CAPTURES, archive)
    shutil.copy(SEED, archive / SEED.name)
    return archive


def new_store(backend: dict, directory: Path) -> dict:
    """Settings of an empty store of this backend (a file in `directory`, or a fresh PostgreSQL schema)."""
    if backend["DATABASE_URL"].startswith("sqlite"):
        directory.mkdir(parents=True, exist_ok=True)
        return {**backend, "DATABASE_URL": f"sqlite:///{directory / 'store.sqlite'}"}
    return {**backend, "DATABASE_SCHEMA": new_pg_schema()}


def drop_store(settings: dict) -> None:
    if not settings["DATABASE_URL"].startswith("sqlite"):
        drop_pg_schema(settings["DATABASE_SCHEMA"])


def load(settings: dict, archive: Path, **kwargs):
    return load_archive(archive, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"], **kwargs)


def rows(settings: dict) -> dict[str, list]:
    """Every row of every table of the live store, in primary-key order."""
    url = settings["DATABASE_URL"]
    prefix = "" if url.startswith("sqlite") else f'"{settings["DATABASE_SCHEMA"]}".'
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {prefix}{t} ORDER BY 1"))] for t in TABLES}
    engine.dispose()
    return found


def public_headers(settings: dict) -> dict[str, tuple]:
    """(status, ETag, Last-Modified) of each endpoint, from a new app on this store."""
    app = make_app(settings)
    client = app.test_client()
    found = {}
    for url in ENDPOINTS:
        resp = client.get(url)
        found[url] = (resp.status_code, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
    app.extensions["store"].dispose()
    return found


@pytest.fixture(scope="module")
def fixtures_loaded(backend, tmp_path_factory):
    """The fixture archive loaded once per backend through the real loader, with a client on it."""
    directory = tmp_path_factory.mktemp("fixtures-store")
    settings = new_store(backend, directory)
    archive = fixture_archive(directory)
    report = load(settings, archive)
    app = make_app(settings)
    yield {"settings": settings, "report": report, "client": app.test_client(), "archive": archive}
    app.extensions["store"].dispose()
    drop_store(settings)


def article(fixtures_loaded, slug: str) -> dict:
    resp = fixtures_loaded["client"].get(f"/v1/articles/{slug}?format=blocks")
    assert resp.status_code == 200, (slug, resp.get_json())
    return resp.get_json()["data"]


# ---------------------------------------------------------------- every layout, field by field, through the API


@pytest.mark.parametrize("name", LAYOUTS)
def test_loader_serves_every_layout_fixture_with_exact_fields(name, fixtures_loaded):
    exp = {"image_caption": None, "image_credit": None, "lang": "en", "truncated": False, **EXPECTED[name]}
    data = article(fixtures_loaded, exp["slug"])
    week = exp.get("week_start")
    assert data["issue"] == (week.isoformat() if week else None)
    assert (data["section"] or {}).get("slug") == exp.get("section")
    assert (data["trend"] or {}).get("slug") == exp.get("trend")
    assert (data["title"], data["lead"], data["lang"], data["truncated"]) == (
        exp["title"],
        exp["lead"],
        exp["lang"],
        exp["truncated"],
    )
    assert data["body"]["blocks"] == exp["blocks"]
    no_file = {"url": None, "width": None, "height": None, "alt": None, "renditions": []}  # a capture names no file
    image = (
        {"caption": exp["image_caption"], "credit": exp["image_credit"], **no_file} if exp["image_caption"] else None
    )
    assert data["image"] == image
    if week:  # the issue lists it under its section
        issue = fixtures_loaded["client"].get(f"/v1/issues/{week.isoformat()}").get_json()["data"]
        listed = {(g["section"]["slug"], a["slug"]) for g in issue["sections"] for a in g["articles"]}
        assert (exp.get("section"), exp["slug"]) in listed


def test_loader_serves_the_real_seed_capture(fixtures_loaded):
    data = article(fixtures_loaded, SEED_SLUG)
    assert (data["issue"], data["section"]["slug"], data["trend"]["slug"], data["lang"], data["truncated"]) == (
        "2022-02-14",
        "security-issues",
        "worse",
        "en",
        False,
    )
    assert data["title"] == "Minsk sends conflicting signals about the expanding Russian military presence"
    # the lead and the body as the capture (data/archive/000_4ca6c26e1ba04525.txt) prints them, no-break spaces kept
    assert data["lead"] == (
        "Belarusian sources issued contradictory statements regarding Russian troops’ withdrawal timing following "
        "the joint exercise “Allied Resolve-2022”."
    )
    assert data["image"] is None
    blocks = data["body"]["blocks"]
    assert [b["type"] for b in blocks] == ["paragraph", "paragraph", "paragraph", "list", "paragraph", "paragraph"]
    starts = [b["text"].split(",")[0] for b in blocks if b["type"] == "paragraph"]
    assert starts == [
        "Although it was initially stated that after the end of the unscheduled Belarusian-Russian “Allied Resolve-2022” exercises",
        "Minister of Foreign Affairs of Belarus\xa0Vladimir Makei\xa0and the Russian Ministry of Defence representative",
        "Obviously",
        "However",
        "Unfortunately",
    ]
    assert blocks[2]["text"].endswith("The Belarusian regime, therefore:")
    assert blocks[3]["ordered"] is False
    assert [item.split(",")[0] for item in blocks[3]["items"]] == [
        "demonstrates to the Kremlin military-political loyalty",
        "uses Russian troops in Belarus as a political lever with the West",
    ]


def test_loader_weeks_in_every_printed_form_become_issues(fixtures_loaded):
    client = fixtures_loaded["client"]
    titles = {
        "2023-07-31": "July 31 – August 6, 2023",  # across months
        "2023-02-27": "February 27 – March 5, 2023",  # across months, printed in Russian
        "2025-12-29": "December 29, 2025 – January 4, 2026",  # across years, printed with one year
        "2014-12-29": "December 29, 2014 – January 4, 2015",  # across years, printed with both
        "2017-03-13": "March 13 – March 19, 2017",  # inferred from a Monday stamp: the week before
        "2017-04-03": "April 3 – April 9, 2017",  # inferred from a Wednesday stamp: its own week
    }
    for issue_id, title in titles.items():
        resp = client.get(f"/v1/issues/{issue_id}")
        assert resp.status_code == 200, issue_id
        assert resp.get_json()["data"]["title"] == title
    listed = [i["id"] for i in client.get("/v1/issues?limit=100").get_json()["data"]]
    assert listed == sorted(listed, reverse=True) and len(listed) == 12
    assert fixtures_loaded["report"].issues_per_year == {"2014": 1, "2017": 3, "2022": 3, "2023": 4, "2025": 1}


def test_loader_never_builds_an_issue_from_a_bulk_import_stamp(fixtures_loaded):
    # Nine articles stamped between 11:42 and 13:35 on one day, when the rest of the archive has a stamp or two a
    # week: an import, not nine publications. No issue, no publication date, each listed in the report.
    report = fixtures_loaded["report"]
    assert report.bulk_import_stamps == [
        "2020-11-16 11:42", "2020-11-16 11:58", "2020-11-16 12:05", "2020-11-16 12:21", "2020-11-16 12:33",
        "2020-11-16 12:47", "2020-11-16 13:02", "2020-11-16 13:18", "2020-11-16 13:35",
    ]  # fmt: skip
    assert report.bulk_imported == sorted(EXPECTED[name]["slug"] for name in BULK)
    for name in BULK:
        data = article(fixtures_loaded, EXPECTED[name]["slug"])
        assert (data["issue"], data["section"]["slug"]) == (None, EXPECTED[name]["section"])
        assert EXPECTED[name]["slug"] in report.without_issue
        assert (data["published_at"], data["updated_at"]) == (None, None)  # the import's stamp is no publication
    assert fixtures_loaded["client"].get("/v1/issues/2020-11-09").status_code == 404


def test_loader_lists_every_article_without_issue_and_loads_it(fixtures_loaded):
    report = fixtures_loaded["report"]
    assert report.without_issue == sorted(
        [
            "eurasian-development-bank-loan-delayed",  # layout 5
            "minsk-i-vilnya-spracha-pra-punkty-propusku",  # body only, Belarusian path
            "potash-exports-find-a-new-route-through-russian-ports",  # layout 4
            *(EXPECTED[name]["slug"] for name in BULK),
        ]
    )
    listed = {a["slug"]: a["issue"] for a in fixtures_loaded["client"].get("/v1/articles?limit=100").get_json()["data"]}
    assert all(listed[slug] is None for slug in report.without_issue)


# ---------------------------------------------------------------- duplicates and aliases


def test_loader_merges_duplicate_captures_into_the_richest_version(fixtures_loaded):
    # Five captures of one article (https, http+www, ?page=2, old canonical view, old issue view): one article,
    # with the week and trend of the issue views and the section the issue view lacks.
    data = article(fixtures_loaded, DUPLICATE_SLUG)
    assert len(DUPLICATE_FILES) == 5
    assert (data["issue"], data["section"]["slug"], data["trend"]["slug"], data["truncated"]) == (
        "2017-03-13",
        "security-issues",
        "unchanged",
        False,
    )
    assert data["title"] == "Lukashenka reshuffles the Security Council"
    assert data["body"]["blocks"][-1]["text"].endswith("expected to coordinate rather than lead.")
    found = fixtures_loaded["client"].get("/v1/articles?limit=100&issue=2017-03-13").get_json()["data"]
    assert [a["slug"] for a in found].count(DUPLICATE_SLUG) == 1
    # 4 merged into the Security Council article + 1 (the moved copy of the reshuffle article).
    assert fixtures_loaded["report"].merged_duplicates == 5
    # Every URL it was captured under is stored with it, the four merged duplicates' included.
    settings = fixtures_loaded["settings"]
    prefix = "" if settings["DATABASE_URL"].startswith("sqlite") else f'"{settings["DATABASE_SCHEMA"]}".'
    engine = create_engine(settings["DATABASE_URL"])
    with engine.connect() as conn:
        urls = conn.execute(
            text(f"SELECT u.url FROM {prefix}article_url u JOIN {prefix}article a ON a.id = u.article_id "
                 "WHERE a.slug = :slug ORDER BY u.url"),
            {"slug": DUPLICATE_SLUG},
        ).scalars().all()  # fmt: skip
    engine.dispose()
    assert urls == sorted(DUPLICATE_URLS)


def test_loader_alias_slug_of_a_duplicate_answers_with_the_canonical_article(fixtures_loaded):
    client = fixtures_loaded["client"]
    canonical = "government-reshuffle-brings-security-officials-to-the-fore"
    resp = client.get("/v1/articles/government-reshuffle-security-officials")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert (data["slug"], data["requested_slug"]) == (canonical, "government-reshuffle-security-officials")
    assert resp.headers["Link"] == f'<http://localhost/v1/articles/{canonical}>; rel="canonical"'
    # The richest version won: the newer-site capture with week, section, trend and caption.
    assert (data["issue"], data["section"]["slug"], data["trend"]["slug"], data["image"]["credit"]) == (
        "2023-04-10",
        "ruling-elite",
        "unchanged",
        "Belsat",
    )
    assert data["aliases"] == ["government-reshuffle-security-officials"]
    assert article(fixtures_loaded, canonical)["requested_slug"] == canonical
    assert client.get("/v1/articles/government-reshuffle-no-such-alias").status_code == 404


# ---------------------------------------------------------------- skips, truncation, the report


def test_loader_skips_pages_that_are_not_articles_with_a_reason(fixtures_loaded):
    assert fixtures_loaded["report"].skipped == {
        "event announcement": ["captures/layout6_event.txt"],
        "home page": ["captures/layout6_home_page.txt"],
        "section listing page": ["captures/layout6_listing_page.txt"],
        "sister project page": ["captures/layout6_sister_project.txt"],
    }


def test_loader_flags_truncated_captures(fixtures_loaded):
    report = fixtures_loaded["report"]
    assert report.truncated == ["schools-begin-the-year-with-a-shortage-of-teachers"]
    listed = fixtures_loaded["client"].get("/v1/articles?limit=100").get_json()["data"]
    assert [a["slug"] for a in listed if a["truncated"]] == report.truncated


def test_loader_report_counts_the_fixture_archive(fixtures_loaded):
    report = fixtures_loaded["report"]
    files = 34  # 33 fixtures + the seed
    assert (report.files_read, report.articles_loaded, report.public_articles) == (files, 25, 25)
    assert files == report.articles_loaded + report.merged_duplicates + 4  # loaded + merged + skipped
    assert (report.rejected, report.swapped) == ([], True)


def _cli(settings: dict, *args: str, tty: bool = False) -> tuple[int, str, str]:
    """`flask archive load ARGS` in a child process; stderr on a pseudo-terminal when tty."""
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": settings["DATABASE_URL"]}
    env["DATABASE_SCHEMA"] = settings["DATABASE_SCHEMA"]
    cmd = [str(Path(sys.executable).with_name("flask")), "archive", "load", *args]
    root = Path(__file__).resolve().parents[1]
    if not tty:
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    primary, secondary = pty.openpty()
    child = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    stdout, _ = child.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return child.returncode, stdout, b"".join(chunks).decode()


def test_loader_cli_report_json_is_machine_readable(backend, tmp_path):
    settings = new_store(backend, tmp_path)
    try:
        code, stdout, stderr = _cli(settings, str(fixture_archive(tmp_path)), "--report", "json")
        assert code == 0, stderr
        report = json.loads(stdout)
        assert (report["files_read"], report["articles_loaded"], report["merged_duplicates"]) == (34, 25, 5)
        assert {reason: len(paths) for reason, paths in report["skipped"].items()} == {
            "event announcement": 1,
            "home page": 1,
            "section listing page": 1,
            "sister project page": 1,
        }
        assert report["rejected"] == [] and report["truncated"] == [
            "schools-begin-the-year-with-a-shortage-of-teachers"
        ]
        assert len(report["without_issue"]) == 12
        assert report["issues_per_year"] == {"2014": 1, "2017": 3, "2022": 3, "2023": 4, "2025": 1}
        assert "parsing" not in stderr  # no progress bar off a terminal
    finally:
        drop_store(settings)


def test_loader_cli_shows_a_progress_bar_on_a_terminal_only(backend, tmp_path):
    settings = new_store(backend, tmp_path)
    try:
        archive = fixture_archive(tmp_path)
        code, stdout, stderr = _cli(settings, str(archive), tty=True)
        assert code == 0, stderr
        assert "parsing" in stderr and "100%" in stderr
        for line in ("files read: 34", "articles loaded: 25 (25 public now)", "merged duplicates: 5", "truncated: 1"):
            assert line in stdout
        assert "issues per year: 2014: 1, 2017: 3, 2022: 3, 2023: 4, 2025: 1" in stdout
        code, stdout, stderr = _cli(settings, str(archive))
        assert code == 0 and "parsing" not in stderr and "files read: 34" in stdout
    finally:
        drop_store(settings)


# ---------------------------------------------------------------- idempotence


def test_loader_reload_of_the_same_archive_changes_no_row_and_no_etag(backend, tmp_path):
    settings = new_store(backend, tmp_path)
    try:
        archive = fixture_archive(tmp_path)
        shutil.copytree(ARCHIVE, archive, dirs_exist_ok=True)  # both formats: captures and documents
        first = load(settings, archive)
        before, headers = rows(settings), public_headers(settings)
        second = load(settings, archive)
        assert second.generation == first.generation and second.changes_recorded == 0
        assert rows(settings) == before
        assert public_headers(settings) == headers
        assert all(status == 200 and etag for status, etag, _ in headers.values()), headers
    finally:
        drop_store(settings)


def test_loader_two_fresh_stores_of_one_archive_are_identical(backend, tmp_path, frozen_clock):
    # Same archive, same load time (the change log records it), two empty stores: the same rows and ETags.
    frozen_clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    stores = [new_store(backend, tmp_path / name) for name in ("a", "b")]
    try:
        archive = fixture_archive(tmp_path)
        shutil.copytree(ARCHIVE, archive, dirs_exist_ok=True)
        seen = []
        for settings in stores:
            report = load(settings, archive)
            seen.append((report.generation, rows(settings), public_headers(settings)))
        assert seen[0] == seen[1]
    finally:
        for settings in stores:
            drop_store(settings)
