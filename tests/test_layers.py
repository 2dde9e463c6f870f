"""The read side of the store (models, queries, search, pagination) and what it leans on (cache keys, signing,
problems, the request context) imports no Flask: it takes what a request decided as arguments. Views take the
request context explicitly: no module of the web layer reads Flask's `g` or keeps values in the WSGI environ."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ_SIDE = (
    "api.store.models", "api.store.db", "api.store.queries", "api.store.search", "api.pagination",
    "api.keys", "api.signing", "api.problems", "api.context",
)  # fmt: skip
WEB = ("flask", "flask_caching", "flask_limiter", "werkzeug", "api.http", "api.errors", "api.extensions", "api.app")


def test_read_side_imports_no_flask():
    code = f"import sys, {', '.join(READ_SIDE)}; print(','.join(m for m in {WEB!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the read side imported the web layer: {out.stdout.strip()}"


def test_views_take_the_request_context_explicitly():
    web = [*(ROOT / "api" / "resources").glob("*.py"), ROOT / "api" / "pages.py", ROOT / "api" / "http.py"]
    for path in web:
        source = path.read_text()
        assert not re.search(r"from flask import [^\n]*\bg\b", source), f"{path.name} reads flask.g"
        if path.name == "http.py":
            continue  # the wrapper leaves notes for the WSGI middlewares (hot path, metrics): not context for views
        keys = set(re.findall(r"environ\[\"(bulletin\.[a-z_]+)\"\]", source))
        assert keys == set(), f"{path.name} keeps {keys} in the WSGI environ"


def test_sql_lives_in_the_store():
    web = [*(ROOT / "api" / "resources").glob("*.py"), ROOT / "api" / "pages.py", ROOT / "api" / "openapi.py"]
    for path in web:
        builds = re.findall(r"\b(?:select|text|and_|or_|func)\(", path.read_text())
        imports = re.findall(r"from sqlalchemy import ([^\n]+)", path.read_text())
        assert not builds and all(set(i.replace(" ", "").split(",")) <= {"Select"} for i in imports), path.name
