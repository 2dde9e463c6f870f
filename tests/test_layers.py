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


def _modules(*roots: str) -> list[Path]:
    return [p for root in roots for p in (ROOT / root).rglob("*.py")]


def test_no_module_uses_ambient_context():
    """No marshmallow Context (a context variable dumps would read) and no flask.g anywhere in the app or schemas."""
    for path in _modules("api", "schemas"):
        source = path.read_text()
        assert "marshmallow.experimental.context" not in source, f"{path.name} uses marshmallow's ambient Context"
        assert not re.search(r"from flask import [^\n]*\bg\b|\bflask\.g\b", source), f"{path.name} reads flask.g"


def test_views_and_what_they_call_do_not_read_the_request(app):
    """Every cached view is `view(session, ctx, **path)`; the resources and the site helpers they call read the
    request from `ctx`, never from Flask's `request`."""
    import inspect

    from api.openapi import operations

    views = [view for _path, _rule, view in operations(app)]
    assert len(views) > 15
    for view in views:
        params = list(inspect.signature(inspect.unwrap(view)).parameters)
        assert params[:2] == ["session", "ctx"], f"{view.__name__} takes {params}"
    for path in [*(ROOT / "api" / "resources").glob("*.py"), ROOT / "api" / "site.py"]:
        source = path.read_text()
        assert not re.search(r"from flask import [^\n]*\brequest\b|\bflask\.request\b", source), path.name


def test_no_resource_imports_another_resources_private_name():
    """Shared behaviour moves down a layer (or gets a public name): `from api.resources.x import _y` is refused."""
    import ast

    for path in (ROOT / "api" / "resources").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("api.resources"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in {p.stem for p in path.parent.glob("*.py")}:
                    raise AssertionError(f"{path.name} reads {base.id}.{node.attr}")
