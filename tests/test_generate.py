"""The synthetic archive generator: deterministic, sharded, and loaded in strict mode with exactly the counts it wrote."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.ingest.loader import load_archive
from bench.generate import MANIFEST, Rates, generate

ARTICLES = 300


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    # Rates raised above the defaults so that 300 articles hold every kind of irregularity.
    rates = Rates(duplicate=0.3, truncated=0.05, no_week=0.05, bulk=0.02, non_article=0.08, draft=0.1, embargoed=0.1)
    out = tmp_path_factory.mktemp("generated") / "archive"
    manifest = generate(out, ARTICLES, seed=7, rates=rates, per_dir=100)
    return out, manifest, rates


def test_generation_is_deterministic_and_sharded(archive, tmp_path):
    out, manifest, rates = archive
    again = tmp_path / "again"
    generate(again, ARTICLES, seed=7, rates=rates, per_dir=100)
    assert _tree_hash(again) == _tree_hash(out)
    other = tmp_path / "other"
    generate(other, ARTICLES, seed=8, rates=rates, per_dir=100)
    assert _tree_hash(other) != _tree_hash(out)
    shards = [d for d in out.rglob("*") if d.is_dir() and any(f.is_file() for f in d.iterdir())]
    assert len(shards) >= 3 and all(sum(1 for _ in d.iterdir()) <= 100 for d in shards)
    written = sum(1 for f in out.rglob("*") if f.is_file() and f.name != MANIFEST)
    assert written == manifest.files == sum(manifest.by_kind.values())
    with pytest.raises(FileExistsError):
        generate(out, 1)


def test_every_kind_is_present(archive):
    _, m, _ = archive
    kinds = " | ".join(m.by_kind)
    for layout in (1, 2, 3, 4, 5):
        assert f"capture layout {layout}" in kinds
    for kind in ("document (published)", "document (draft)", "document (embargoed)", "bulk-import stamp"):
        assert kind in kinds
    for dup in ("scheme", "www", "page", "old vs new domain", "issue vs canonical view", "truncated copy"):
        assert f"duplicate: {dup}" in kinds
    assert set(m.skipped) == {"section listing page", "home page", "event announcement", "sister project page"}
    assert m.languages["en"] > 0 and m.languages["ru"] > 0
    assert m.truncated and m.without_issue and m.bulk_import_stamps and m.missing_weeks and m.aliases


def test_a_generated_archive_loads_strictly_with_the_counts_it_wrote(archive, scratch_store):
    out, m, _ = archive
    report = load_archive(out, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    assert report.rejected == []
    assert report.files_read == m.files
    assert report.articles_loaded == m.articles == ARTICLES
    assert report.public_articles == m.public == ARTICLES - m.drafts - m.embargoed
    assert report.merged_duplicates == m.merged_duplicates
    assert {reason: len(paths) for reason, paths in report.skipped.items()} == m.skipped
    assert len(report.truncated) == m.truncated
    assert len(report.without_issue) == m.without_issue
    assert len(report.bulk_import_stamps) == m.bulk_import_stamps
    assert sum(report.issues_per_year.values()) == m.issues
    assert report.issues_per_year == m.issues_per_year

    url, schema = scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"]
    prefix = "" if url.startswith("sqlite") else f'"{schema}".'
    engine = create_engine(url)
    with engine.connect() as conn:
        languages = dict(conn.execute(text(f"SELECT lang, count(*) FROM {prefix}article GROUP BY lang")).all())
        aliases = conn.execute(text(f"SELECT count(*) FROM {prefix}alias")).scalar()
    engine.dispose()
    assert languages == m.languages  # Russian bodies are detected as Russian, whatever the chrome
    assert aliases == m.aliases
