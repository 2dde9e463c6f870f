"""The archive loader: parse every file, deduplicate, build a new store beside the live one, validate, swap."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from api import clock
from api.ingest.captures import parse_capture
from api.ingest.documents import parse_document
from api.ingest.media import Catalog
from api.ingest.merge import Index
from api.ingest.records import ArchiveError, ArticleRecord, Skip, checked, control_characters, without_controls
from api.ingest.report import LoadFailed, LoadReport
from api.ingest.vocabulary import Vocabulary
from api.ingest.walk import ARCHIVE_SUFFIXES, archive_files, check_name, read_archive_file, relative_name
from api.ingest.writer import Target, build_and_swap

SCRATCH_PREFIX = "bulletin-loader-"  # + pid: the scratch index of a load, in the temporary directory


def parse_file(
    path: Path, root: Path, vocab: Vocabulary, cleaned: list[str] | None = None, media: Catalog | None = None
) -> ArticleRecord | Skip:
    """Parse one file of the archive by its kind (editorial document or page capture).

    Only regular files inside the archive, within the size limit, are read (`walk.read_archive_file`); a UTF-8
    byte-order mark is dropped, CRLF and CR line ends read as LF, and control characters are removed (counted in
    `cleaned`), so that no feed or XML document ever meets one.
    """
    rel = relative_name(path, root)
    check_name(rel)
    if path.is_symlink() and path.is_dir():  # its files would be silently left out: say so
        raise ArchiveError(rel, None, "a symbolic link to a directory (not followed; refused)")
    if path.suffix not in ARCHIVE_SUFFIXES:  # decided by name, before anything is opened
        return Skip(rel, f"not an archive file ({path.suffix or 'no extension'})")
    raw = read_archive_file(path, root)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArchiveError(rel, line, "not valid UTF-8") from None
    content = content.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if removed := control_characters(content):
        content = without_controls(content)
        if cleaned is not None:
            cleaned.append(f"{rel}: {removed} control character(s) removed")
    if path.suffix == ".md":
        result = parse_document(rel, content, vocab, media and (lambda src: media.resolve(src, path).described("")))
    else:
        result = parse_capture(rel, content, vocab)
    return result if isinstance(result, Skip) else checked(result)


def load_archive(
    path: str | Path,
    database_url: str,
    *,
    schema: str = "bulletin",
    vocabulary: Vocabulary | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Load the archive at `path` into a new generation of the store and swap it in atomically.

    Strict by default: any rejected file fails the load (LoadFailed, with every `path:line: reason`) and
    the live store is untouched. With skip_invalid the rest is loaded and the rejects are reported.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise LoadFailed(f"{path}: no such archive directory")
    vocab = vocabulary or Vocabulary.load()
    report = LoadReport(archive=str(path))
    with _scratch_directory() as scratch:
        index = Index(scratch)
        media = Catalog(root, scratch)
        try:
            _index_archive(index, root, vocab, report, progress, media)
            if report.rejected and not skip_invalid:
                raise LoadFailed(f"{len(report.rejected)} file(s) rejected; the live store is untouched", report)
            index.group()
            report.bulk_import_stamps = index.bulk_stamps(vocab.site.bulk_import)
            now = clock.now()
            index.plan(set(report.bulk_import_stamps), now)
            report.hidden_copies, report.renamed_slugs = index.hidden_copies, index.renamed
            shared = index.one(
                "SELECT slug, group_concat(rel, ', ') FROM (SELECT slug, rel FROM article_plan ORDER BY rel) "
                "GROUP BY slug HAVING count(*) > 1 ORDER BY slug"
            )
            if shared:
                raise LoadFailed(f"two different articles share the slug '{shared[0]}': {shared[1]}", report)
            build_and_swap(index, Target(database_url, schema), root, vocab, report, now, media)
        finally:
            index.close()
            media.close()
    return report


def _scratch_directory() -> tempfile.TemporaryDirectory:
    """A temporary directory for the index, named after this process; ones left by killed loaders go first."""
    for stale in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = stale.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _index_archive(index: Index, root: Path, vocab: Vocabulary, report: LoadReport, progress, media: Catalog) -> None:
    """Pass 1: parse every file, one at a time; keep only what deduplication needs, in the index (and the images
    the documents name, checked and rendered once each, in the media catalogue)."""
    for file in archive_files(root):
        report.files_read += 1
        try:
            result = parse_file(file, root, vocab, report.cleaned, media)
        except ArchiveError as exc:
            report.rejected.append(str(exc))
        except Exception as exc:  # a file no parser rule foresaw still fails as a reason, not a traceback
            reason = f"cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})"
            name = relative_name(file, root).encode("utf-8", "backslashreplace").decode()
            report.rejected.append(str(ArchiveError(name, None, reason)))
        else:
            if isinstance(result, Skip):
                report.skipped.setdefault(result.reason, []).append(result.path)
            else:
                index.add(file, result)
        if progress:
            progress(report.files_read)
