"""Ingest is a batch program: importing it (and the store modules it writes through) loads no Flask, no web layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The store modules the writer uses; the read side (queries, pagination) is not listed until it is web-free too.
STORE_MODULES = ("api.store.models", "api.store.db", "api.store.counts", "api.store.search", "api.store.visibility")
WEB = ("flask", "flask_caching", "flask_limiter", "werkzeug", "marshmallow", "api.http", "api.extensions", "api.app")


def test_ingest_imports_no_flask_and_nothing_of_the_web_layer():
    code = (
        "import sys, api.ingest, api.ingest.loader, api.ingest.writer, "
        + ", ".join(STORE_MODULES)
        + f"; loaded = [m for m in {WEB!r} if m in sys.modules]; print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"ingest imported the web layer: {out.stdout.strip()}"
