"""The read side of the store (models, queries, search, pagination) and what it leans on (cache keys, signing,
problems) imports no Flask: it takes what a request decided as arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ_SIDE = (
    "api.store.models", "api.store.db", "api.store.queries", "api.store.search", "api.pagination",
    "api.keys", "api.signing", "api.problems",
)  # fmt: skip
WEB = ("flask", "flask_caching", "flask_limiter", "werkzeug", "api.http", "api.errors", "api.extensions", "api.app")


def test_read_side_imports_no_flask():
    code = f"import sys, {', '.join(READ_SIDE)}; print(','.join(m for m in {WEB!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the read side imported the web layer: {out.stdout.strip()}"
