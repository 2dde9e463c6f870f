"""Hostile archive files: each is refused as `path:line: reason` (or `path: reason`) in bounded time, with no
traceback, nothing from outside the archive published and the live store untouched (its generation still serves);
or, for what an editor's tools legitimately produce (CRLF, a byte-order mark, stray control characters), loaded
right. Both backends."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest.documents import parse_document
from api.ingest.loader import load_archive
from api.ingest.records import ArchiveError, checked
from api.ingest.report import LoadFailed
from api.ingest.vocabulary import Vocabulary
from api.ingest.walk import MAX_FILE_BYTES
from tests.conftest import make_app
from tests.test_loader import snapshot
from tests.test_loader_e2e import drop_store, new_store

GOOD = """---
slug: {slug}
title: "{title}"
lang: en
published_at: 2022-02-21T09:00:00Z
lead: "A lead."
{extra}---
A body paragraph.
"""
BASE_SLUG = "the-live-article"
VOCABULARY = Vocabulary.load()


def doc(slug: str = "hostile-article", title: str = "Hostile article", extra: str = "") -> str:
    return GOOD.format(slug=slug, title=title, extra=extra)


def _load(settings: dict, archive: Path, **kwargs):
    return load_archive(archive, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"], **kwargs)


@pytest.fixture
def store(backend, tmp_path):
    """An empty store of this backend, for the files that load."""
    settings = new_store(backend, tmp_path / "store")
    yield settings
    drop_store(settings)


@pytest.fixture(scope="module")
def live(backend, tmp_path_factory):
    """A store whose live generation holds one article; every hostile load below must leave it as it is."""
    directory = tmp_path_factory.mktemp("hostile-live")
    archive = directory / "base"
    archive.mkdir()
    (archive / "live.md").write_text(doc(BASE_SLUG, "The live article"))
    settings = new_store(backend, directory / "store")
    report = _load(settings, archive)
    yield {"settings": settings, "archive": archive, "generation": report.generation}
    drop_store(settings)


def _archive_with(live: dict, tmp_path: Path, build) -> Path:
    archive = tmp_path / "archive"
    shutil.copytree(live["archive"], archive)
    build(archive, tmp_path)
    return archive


def _refused(live: dict, tmp_path: Path, build) -> list[str]:
    """Load the live archive plus a hostile file: the load must fail, the live store stay byte for byte."""
    archive = _archive_with(live, tmp_path, build)
    before = snapshot(live["settings"])
    with pytest.raises(LoadFailed) as failed:
        _load(live["settings"], archive)
    assert snapshot(live["settings"]) == before
    app = make_app(live["settings"])
    try:
        resp = app.test_client().get(f"/v1/articles/{BASE_SLUG}")
        assert resp.status_code == 200  # the previous generation still serves
        assert app.extensions["store"].current().id == live["generation"]
    finally:
        app.extensions["store"].dispose()
    return failed.value.report.rejected


def _write(name: str, text: str):
    def build(archive: Path, _tmp: Path) -> None:
        (archive / name).write_text(text)

    return build


# ---------------------------------------------------------------- special files and symbolic links


@pytest.mark.timeout(30)
def test_a_fifo_named_md_is_refused_without_waiting_for_a_writer(live, tmp_path):
    rejected = _refused(live, tmp_path, lambda a, _t: os.mkfifo(a / "pipe.md"))
    assert rejected == ["archive/pipe.md: a FIFO, not a regular file (refused)"]


@pytest.mark.timeout(30)
def test_a_fifo_with_another_name_is_skipped_without_being_opened(live, tmp_path):
    archive = _archive_with(live, tmp_path, lambda a, _t: os.mkfifo(a / "pipe.bin"))
    report = _load(live["settings"], archive)  # a load that succeeds: same content, same generation
    assert report.skipped == {"not an archive file (.bin)": ["archive/pipe.bin"]}
    assert report.generation == live["generation"]


def test_a_symlink_to_itself_is_refused(live, tmp_path):
    rejected = _refused(live, tmp_path, lambda a, _t: os.symlink("loop.md", a / "loop.md"))
    assert rejected == ["archive/loop.md: a symbolic link that loops (refused)"]


def test_a_symlink_to_a_file_outside_the_archive_is_refused_and_never_published(live, tmp_path):
    def build(archive: Path, tmp: Path) -> None:
        (tmp / "secret.md").write_text(doc("outside-secret", "Outside secret"))
        os.symlink(tmp / "secret.md", archive / "secret.md")

    rejected = _refused(live, tmp_path, build)
    assert rejected == ["archive/secret.md: a symbolic link to a file outside the archive (refused)"]


def test_a_symlink_outside_is_not_published_even_when_rejects_are_skipped(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "ok.md").write_text(doc())
    (tmp_path / "secret.md").write_text(doc("outside-secret", "Outside secret"))
    os.symlink(tmp_path / "secret.md", archive / "link.md")
    os.symlink("../secret.md", archive / "relative.md")
    os.symlink(tmp_path, archive / "dir")  # a symlinked directory is refused, never walked
    report = _load(store, archive, skip_invalid=True)
    assert report.articles_loaded == 1
    assert sorted(report.rejected) == [
        "archive/dir: a symbolic link to a directory (not followed; refused)",
        "archive/link.md: a symbolic link to a file outside the archive (refused)",
        "archive/relative.md: a symbolic link to a file outside the archive (refused)",
    ]


def test_a_symlink_inside_the_archive_is_followed(store, tmp_path):
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    (archive / "sub" / "ok.md").write_text(doc())
    os.symlink("sub/ok.md", archive / "same.md")
    report = _load(store, archive)
    assert (report.articles_loaded, report.merged_duplicates, report.rejected) == (1, 1, [])


def test_file_names_that_are_not_utf8_or_hold_control_characters_are_refused(live, tmp_path):
    def build(archive: Path, _t: Path) -> None:
        (archive / "new\nline.md").write_text(doc("a-name"))
        with open(os.path.join(os.fsencode(archive), b"bad-\xff.md"), "w") as fh:
            fh.write(doc("b-name"))

    rejected = sorted(_refused(live, tmp_path, build))
    assert rejected == [
        "archive/bad-\\xff.md: a file name that is not UTF-8 or holds control characters (refused)",
        "archive/new\\nline.md: a file name that is not UTF-8 or holds control characters (refused)",
    ]


# ---------------------------------------------------------------- front matter


def test_front_matter_nested_twenty_thousand_deep_is_refused(live, tmp_path):
    deep = "title: " + "[" * 20_000 + "]" * 20_000
    text = f"---\nslug: deep\nlang: en\n{deep}\n---\nbody\n"
    rejected = _refused(live, tmp_path, _write("deep.md", text))
    assert len(rejected) == 1 and rejected[0].startswith("archive/deep.md:") and "nest" in rejected[0]


def test_block_nesting_and_oversized_front_matter_are_refused(live, tmp_path):
    nested = "---\nslug: x\nauthors:\n" + "".join(" " * i + "-\n" for i in range(1, 3000)) + "---\nbody\n"
    huge = "---\nslug: x\nlead: '" + "x" * 70_000 + "'\n---\nbody\n"

    def build(archive: Path, _t: Path) -> None:
        (archive / "nested.md").write_text(nested)
        (archive / "huge.md").write_text(huge)

    rejected = sorted(_refused(live, tmp_path, build))
    assert rejected[0] == "archive/huge.md:2: front matter is over 65536 characters (refused)"
    assert rejected[1].startswith("archive/nested.md:") and "Error" not in rejected[1].split(": ", 1)[1][:20]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("issue: 0000-01-01\n", "archive/bad.md:7: invalid YAML: '0000-01-01' is not a valid date (year 0 is out of range)"),
        ("issue: 2022-02-30\n", "archive/bad.md:7: invalid YAML: '2022-02-30' is not a valid date (day is out of range for month)"),
        ("updated_at: '0000-01-01T00:00:00Z'\n", "archive/bad.md:7: updated_at is not an RFC 3339 timestamp: '0000-01-01T00:00:00Z'"),
        ("updated_at: 0001-01-01T00:00:00+01:00\n", "archive/bad.md:7: updated_at is out of range: '0001-01-01T00:00:00+01:00'"),
        ("embargo_until: 9999-12-31T23:59:59-01:00\n", "archive/bad.md:7: embargo_until is out of range: '9999-12-31T23:59:59-01:00'"),
        ("updated_at: 2999-12-31T23:59:59-01:00\n", "archive/bad.md:7: updated_at is out of range: '2999-12-31T23:59:59-01:00'"),
        ("issue: 9999-12-27\n", "archive/bad.md:7: issue is out of range: 9999-12-27"),
        ("position: 100000000000000000000000000000\n", "archive/bad.md:7: position must be an integer from 1 to 10000: '100000000000…'"),
        ("position: 10**29\n", "archive/bad.md:7: position must be an integer from 1 to 10000: '10**29'"),
        ("position: " + "9" * 5000 + "\n", "archive/bad.md:7: invalid YAML: '" + "9" * 40 + "…' is not a valid integer (Exceeds the limit (4300 digits)"),
        ("aliases: ['../../etc']\n", "archive/bad.md:7: alias must be lowercase ASCII words joined by hyphens: '../../etc'"),
        ("aliases: [UPPER]\n", "archive/bad.md:7: alias must be lowercase ASCII words joined by hyphens: 'UPPER'"),
        ("aliases: [with spaces]\n", "archive/bad.md:7: alias must be lowercase ASCII words joined by hyphens: 'with spaces'"),
        ("aliases: ok-alias\n", "archive/bad.md:7: aliases must be a list of slugs"),
        ("canonical_url: javascript:alert(1)\n", "archive/bad.md:7: canonical_url must be an http(s) URL: 'javascript:alert(1)'"),
        ("canonical_url: //example.org/x\n", "archive/bad.md:7: canonical_url must be an http(s) URL"),
        ("translation_key: [a, b]\n", "archive/bad.md:7: translation_key must be a single value, not a list or mapping"),
    ],
    ids=lambda v: v[:24] if isinstance(v, str) and v[:1].isalpha() else None,
)  # fmt: skip
def test_impossible_values_are_refused_at_their_line(live, tmp_path, extra, expected):
    rejected = _refused(live, tmp_path, _write("bad.md", doc(extra=extra)))
    assert len(rejected) == 1 and rejected[0].startswith(expected), rejected


def test_extreme_but_valid_dates_load_and_every_endpoint_answers(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "a.md").write_text(doc("oldest", "Oldest", "issue: 1900-01-01\nupdated_at: 2999-12-31T22:59:59-01:00\n"))
    (archive / "b.md").write_text(doc("future", "Future", "embargo_until: 2999-12-31T22:59:59-01:00\n"))
    report = _load(store, archive, skip_invalid=True)
    assert report.rejected == []
    app = make_app(store)
    client = app.test_client()
    for url in ("/v1/articles/oldest", "/v1/issues", "/v1/issues/1900-01-01", "/v1/issues/latest", "/v1/feed.atom",
                "/v1/feed.rss", "/v1/feed.json", "/v1/trends/timeline", "/v1/changes", "/v1/articles?sort=oldest"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get("/v1/articles/future").status_code == 404  # embargoed until 3000
    app.extensions["store"].dispose()


# ---------------------------------------------------------------- size


def test_a_50_mb_document_is_refused_by_size_before_it_is_read(live, tmp_path):
    def build(archive: Path, _t: Path) -> None:
        with open(archive / "big.md", "w") as fh:
            fh.write(doc())
            for _ in range(50):
                fh.write("word " * (1024 * 1024 // 5))

    rejected = _refused(live, tmp_path, build)
    size = (tmp_path / "archive" / "big.md").stat().st_size
    assert rejected == [
        f"archive/big.md: {size} bytes, over the {MAX_FILE_BYTES}-byte limit of an archive file (refused; see "
        "docs/archive.md)"
    ]


def test_refusing_a_50_mb_document_costs_no_memory(tmp_path):
    """Measured once, on SQLite: the file is refused before any store is touched."""
    from bench.loader import LARGE_CHILD, measure

    archive = tmp_path / "archive"
    archive.mkdir()
    with open(archive / "big.md", "w") as fh:
        fh.write(doc())
        for _ in range(50):
            fh.write("word " * (1024 * 1024 // 5))
    result = measure(archive, LARGE_CHILD)  # a child process: its own peak RSS, not this one's
    assert result["articles_loaded"] == 0 and len(result["rejected"]) == 1
    grown_mb = (result["own_peak_kb"] - result["rss_before_kb"]) / 1024
    assert grown_mb < 20, f"refusing a 50 MB file raised the loader's peak RSS by {grown_mb:.0f} MB"


# ---------------------------------------------------------------- accepted: CRLF, BOM, control characters


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    text = doc("crlf-article", "CRLF article", "authors: [Analyst]\n") + "\nSecond paragraph.\n"
    (archive / "crlf.md").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (archive / "cr.md").write_bytes(doc("cr-article", "CR article").replace("\n", "\r").encode())
    report = _load(store, archive)
    assert (report.articles_loaded, report.rejected) == (2, [])
    app = make_app(store)
    data = app.test_client().get("/v1/articles/crlf-article?format=blocks").get_json()["data"]
    assert (data["title"], data["lead"], data["authors"]) == ("CRLF article", "A lead.", ["Analyst"])
    assert [b["text"] for b in data["body"]["blocks"]] == ["A body paragraph.", "Second paragraph."]
    app.extensions["store"].dispose()


def test_control_characters_are_removed_and_every_feed_answers(store, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    raw = doc("control-article", "Con\x01trol\x7f title", 'authors: ["Ana\x08lyst"]\n') + "\nBody \x00with\x1b nul.\n"
    escaped = doc(
        "escaped-article", "Esc\\x02aped \\u0085title", 'authors: ["A\\x0buthor"]\nimage_caption: "Cap\\x1ction"\n'
    )
    (archive / "raw.md").write_bytes(raw.encode())
    (archive / "escaped.md").write_text(escaped + "\nNumeric &#1; reference and &#x1F; another.\n")
    report = _load(store, archive)
    assert report.rejected == [] and report.cleaned == ["archive/raw.md: 5 control character(s) removed"]
    app = make_app(store)
    client = app.test_client()
    for kind in ("atom", "rss", "json"):
        resp = client.get(f"/v1/feed.{kind}")
        assert resp.status_code == 200, kind
    raw_data = client.get("/v1/articles/control-article?format=blocks").get_json()["data"]
    assert (raw_data["title"], raw_data["authors"]) == ("Control title", ["Analyst"])
    assert raw_data["body"]["blocks"][1]["text"] == "Body with nul."
    esc = client.get("/v1/articles/escaped-article?format=html").get_json()["data"]
    assert (esc["title"], esc["authors"], esc["image"]["caption"]) == ("Escaped title", ["Author"], "Caption")
    assert "\x01" not in esc["body"]["html"] and "\x1f" not in esc["body"]["html"]
    app.extensions["store"].dispose()


# ---------------------------------------------------------------- any front matter: a record or a reason

KEYS = ("slug", "title", "lang", "lead", "published_at", "issue", "section", "trend", "position", "authors",
        "status", "embargo_until", "updated_at", "image_caption", "canonical_url", "aliases", "translation_key")  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["x", "a-slug", "en", "ru", "draft", "2022-02-14", "2022-02-30", "0000-01-01", "9999-12-31",
                     "2022-02-21T09:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "10**29",
                     "100000000000000000000000000000", "-1", "0", "1e400", ".nan", "~", "[]", "{}", "[a, [b]]",
                     "{a: 1}", "&a [x]", "*a", "!!binary aGk=", "!!python/name:os.system", "'\\x01'", '"\\x01"',
                     "economy", "worse", "https://x.org/a", "javascript:x", "[../../etc]", "[UPPER]", "yes", "null"]),
    st.text(max_size=20),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=4), body=st.text(max_size=40))
def test_any_front_matter_gives_a_record_or_a_reason_never_another_exception(pairs, body):
    fields = {
        "slug": "a-slug",
        "title": "A title",
        "lang": "en",
        "lead": "A lead.",
        "published_at": "2022-02-21T09:00:00Z",
    }
    fields.update(pairs)  # random values over a valid document, so that every check is reached
    front = "".join(f"{key}: {value}\n" for key, value in fields.items())
    try:
        rec = parse_document("archive/x.md", f"---\n{front}---\n{body}\n", VOCABULARY)
    except ArchiveError as exc:
        assert str(exc).startswith("archive/x.md")
        return
    try:
        checked(rec)  # the loader's net over every record: it may still refuse, with a reason
    except ArchiveError as exc:
        assert str(exc).startswith("archive/x.md")
