"""Walking the archive: which files are archive files, in a stable order."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def archive_files(root: Path) -> Iterator[Path]:
    """Every archive file under root, in a stable order (sorted paths)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
