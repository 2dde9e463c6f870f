"""Loader safety on both backends: strict rejects, --skip-invalid, the lock, and a SIGKILL mid-load.

Each test snapshots the live store (the SQLite file's bytes; every PostgreSQL table's rows) and proves a
failed, refused or killed load leaves it exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.app import create_app
from api.ingest.loader import SCRATCH_PREFIX, LoadFailed, Target, load_archive
from tests.conftest import ARCHIVE, FIXTURES, copy_archive

TABLES = (
    "store_meta",
    "issue",
    "section",
    "trend",
    "article",
    "alias",
    "article_url",
    "media_file",
    "media_use",
    "change",
)
BAD = FIXTURES / "captures_bad" / "unknown_trend.txt"


def snapshot(settings: dict) -> str:
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite"):
        return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [
            conn.execute(text(f'SELECT * FROM "{settings["DATABASE_SCHEMA"]}".{t} ORDER BY 1')).all() for t in TABLES
        ]
    engine.dispose()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _load(settings, archive, **kwargs):
    return load_archive(archive, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"], **kwargs)


def test_a_malformed_file_fails_the_load_with_path_and_line_and_writes_nothing(scratch_store, tmp_path):
    _load(scratch_store, ARCHIVE)
    before = snapshot(scratch_store)
    archive = copy_archive(tmp_path, ARCHIVE)
    (archive / "bad.txt").write_bytes(BAD.read_bytes())
    with pytest.raises(LoadFailed) as failed:
        _load(scratch_store, archive)
    lines = failed.value.report.rejected
    assert len(lines) == 1 and lines[0].startswith(f"{archive.name}/bad.txt:9: "), lines
    assert "trend" in lines[0]
    assert snapshot(scratch_store) == before


@pytest.mark.parametrize(
    "corrupt",
    [
        "UPDATE {search} SET slug = slug || '-x' WHERE article_id = (SELECT min(article_id) FROM {search})",
        "DELETE FROM {search} WHERE article_id = (SELECT max(article_id) FROM {search})",
    ],
    ids=["a copy differs", "a document is missing"],
)
def test_search_documents_that_disagree_with_their_articles_fail_the_load(scratch_store, monkeypatch, corrupt):
    """PostgreSQL's search documents copy the article columns a search counts and ranks by (search.COPIED): a
    build whose documents disagree with its articles is refused before the swap, and the live store is kept."""
    if scratch_store["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL's search documents")
    from api.store import search

    _load(scratch_store, ARCHIVE)
    before = snapshot(scratch_store)
    real = search.build_index

    def build_then_corrupt(conn):
        real(conn)
        conn.exec_driver_sql(corrupt.format(search=search._qualified(conn, "article_search")))

    monkeypatch.setattr(search, "build_index", build_then_corrupt)
    with pytest.raises(LoadFailed, match="1 search documents disagree with their articles' columns"):
        _load(scratch_store, ARCHIVE)
    assert snapshot(scratch_store) == before


def test_skip_invalid_loads_the_rest_and_exits_2_listing_the_rejects(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    (archive / "bad.txt").write_bytes(BAD.read_bytes())
    app = create_app({**scratch_store, "CACHE_REDIS_URL": None})
    strict = app.test_cli_runner().invoke(args=["archive", "load", str(archive)])
    assert strict.exit_code == 1 and f"{archive.name}/bad.txt:9:" in strict.output
    result = app.test_cli_runner().invoke(args=["archive", "load", str(archive), "--skip-invalid"])
    assert result.exit_code == 2, result.output
    assert f"{archive.name}/bad.txt:9:" in result.output
    served = create_app({**scratch_store, "CACHE_REDIS_URL": None, "GENERATION_CHECK_INTERVAL": 0})
    assert served.test_client().get("/v1/issues/2022-02-14").status_code == 200
    for each in (app, served):
        each.extensions["store"].dispose()


def test_a_second_loader_refuses_while_one_is_building(scratch_store):
    _load(scratch_store, ARCHIVE)
    before = snapshot(scratch_store)
    holder = Target(scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"])
    holder.lock()
    try:
        with pytest.raises(LoadFailed, match="another loader is already building"):
            _load(scratch_store, ARCHIVE)
    finally:
        holder.unlock()
    assert snapshot(scratch_store) == before
    _load(scratch_store, ARCHIVE)  # free again once the first one is done


def _big_archive(tmp_path: Path, copies: int) -> Path:
    """The sample archive plus `copies` renamed copies of one article, so a load takes a while."""
    archive = copy_archive(tmp_path, ARCHIVE)
    source = (ARCHIVE / "2022-02-14" / "belarus-budget-deficit-widens.en.md").read_text()
    extra = archive / "extra"
    extra.mkdir()
    for n in range(copies):
        doc = source.replace("slug: belarus-budget-deficit-widens", f"slug: extra-article-{n}")
        doc = doc.replace("translation_key: budget-deficit-2022-02\n", "").replace(
            'title: "Budget deficit', f'title: "Extra {n}: budget deficit'
        )
        (extra / f"extra-article-{n}.en.md").write_text(doc + f"\nParagraph {n} of a long archive.\n")
    return archive


def _building(settings: dict) -> bool:
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite"):
        live = Path(url.removeprefix("sqlite:///"))
        return any(live.parent.glob(live.name + ".build-*"))
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = 'article'"),
            {"s": settings["DATABASE_SCHEMA"] + "_build"},
        ).scalar()
    engine.dispose()
    return bool(found)


def test_a_loader_killed_mid_load_leaves_the_live_store_byte_identical(scratch_store, tmp_path):
    _load(scratch_store, ARCHIVE)
    before = snapshot(scratch_store)
    archive = _big_archive(tmp_path, 3000)
    code = (
        "import sys; from api.ingest.loader import load_archive; "
        "load_archive(sys.argv[1], sys.argv[2], schema=sys.argv[3])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(archive), scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"]],
        cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.monotonic() + 60
    while not _building(scratch_store) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.poll() is None, "the load finished before it could be killed; make the archive bigger"
    time.sleep(0.2)  # well inside the build
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert snapshot(scratch_store) == before
    assert list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{child.pid}-*"))  # its scratch index
    report = _load(scratch_store, archive)  # the next load cleans up after the dead one and succeeds
    assert report.swapped and report.articles_loaded >= 3000
    assert not list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{child.pid}-*"))
    assert snapshot(scratch_store) != before
