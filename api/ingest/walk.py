"""Walking the archive: which files are archive files, in a stable order, and reading one safely.

An archive file is read only if it is a regular file inside the archive: a FIFO, a device or a socket is refused
without being opened for reading (opening a FIFO would wait forever for a writer), a symbolic link is followed
only when its target resolves to a regular file inside the archive root (a loop, a dangling link or a target
outside the archive is refused), and a symbolically linked directory is refused rather than walked. A file
larger than MAX_FILE_BYTES is refused before it is read: no more than that many bytes are ever held.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from api.ingest.records import ArchiveError

# Of what the loader reads: an article of the bulletin is a few thousand words (tens of KB); 1 MiB is twenty times the
# longest and bounds the memory and time a file can cost.
MAX_FILE_BYTES = 1024 * 1024
ARCHIVE_SUFFIXES = (".md", ".txt")
MEDIA_DIR = "media"  # the archive's images (api/ingest/media.py): read only when a document names one

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"),
)  # fmt: skip


def archive_files(root: Path) -> Iterator[Path]:
    """Every archive file under root, in a stable order (sorted paths); symlinked directories are yielded (to be
    refused by `read_archive_file`), never walked; the images in `media/` are not archive files."""
    for dirpath, dirnames, filenames in os.walk(root):
        kept = sorted(d for d in dirnames if not d.startswith((".", "_")) and (d != MEDIA_DIR or dirpath != str(root)))
        dirnames[:] = [d for d in kept if not os.path.islink(os.path.join(dirpath, d))]
        links = [d for d in kept if d not in dirnames]
        for name in sorted([*(n for n in filenames if not n.startswith(".")), *links]):
            yield Path(dirpath) / name


def relative_name(path: Path, root: Path) -> str:
    """The name a report gives a file: its path from the archive's parent (`archive/2022-02-14/x.md`)."""
    return str(path.relative_to(root.parent)) if root.parent != path else str(path)


_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # controls, and bytes that were not UTF-8


def check_name(rel: str) -> None:
    """Refuse a file whose name could not be stored or reported as it is (not UTF-8, or with control characters:
    a newline in a name would forge a line of the report); the reason shows it escaped."""
    if _BAD_NAME.search(rel):
        shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        shown = _BAD_NAME.sub(lambda m: m.group().encode("unicode_escape").decode(), shown)
        raise ArchiveError(shown, None, "a file name that is not UTF-8 or holds control characters (refused)")


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _resolve_inside(path: Path, root: Path, rel: str) -> Path:
    """The regular file a symbolic link stands for, if it lies inside the archive root; else ArchiveError."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArchiveError(rel, None, "a symbolic link that loops (refused)") from None
        raise ArchiveError(rel, None, "a symbolic link to nothing (refused)") from None
    if not target.is_relative_to(root):
        raise ArchiveError(rel, None, "a symbolic link to a file outside the archive (refused)")
    return target


def read_archive_file(path: Path, root: Path, *, limit: int = MAX_FILE_BYTES, kind: str = "an archive file") -> bytes:
    """The bytes of one archive file (or image: `limit`, `kind`), refusing whatever is not a regular file inside
    `root`, or is larger than `limit`."""
    rel = relative_name(path, root)
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            path = _resolve_inside(path, root, rel)
            info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ArchiveError(rel, None, f"{_kind(info.st_mode)}, not a regular file (refused)")
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it still does not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except ArchiveError:
        raise
    except OSError as exc:
        raise ArchiveError(rel, None, f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArchiveError(rel, None, f"{_kind(info.st_mode)}, not a regular file (refused)")
        if info.st_size > limit:
            raise ArchiveError(rel, None, _too_large(info.st_size, limit, kind))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:  # grew after the check
            raise ArchiveError(rel, None, _too_large(len(data), limit, kind))
        return data
    except OSError as exc:
        raise ArchiveError(rel, None, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _too_large(size: int, limit: int, kind: str) -> str:
    return f"{size} bytes, over the {limit}-byte limit of {kind} (refused; see docs/archive.md)"
