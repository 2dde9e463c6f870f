"""The API guide's examples: each marked request run against the sample archive, its response written below it.

In docs/api.md a line

    <!-- example: GET /v1/issues?covers=2022-02-16 | Accept-Language: ru | headers=Content-Language | strings=80 -->

is followed by one fenced block, which this module rewrites with the real response. After the request come
request headers (`Name: value`) and options: `headers=A,B` shows the status line and those response headers,
`body=no` leaves the body out, `strings=N` cuts strings longer than N characters, `items=N` keeps the first N
items of longer lists, `pick=a,b` keeps only those top-level keys, `lines=N` keeps the first N lines of a text
body. Whatever is cut ends in "…".

The archive is loaded into a temporary SQLite store with the service clock frozen, so the store, its
generation and every timestamp of the change log are the same on every run; requests go through the Flask
test client with PUBLIC_BASE_URL set to the address `make run` serves on.

    python -m tools.api_examples           rewrite docs/api.md
    python -m tools.api_examples --check   exit 1 and print a diff when docs/api.md is not what it would write
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "api.md"
ARCHIVE = ROOT / "data" / "archive"
BASE_URL = "http://127.0.0.1:8000"
# Any fixed instant after the sample's last publication and before its embargo end.
FROZEN_AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
WIDTH = 88  # what the theme shows of a code line without scrolling
MARKER = re.compile(r"^<!-- example: (?P<spec>.+?) -->\n(?P<block>```[^\n]*\n(?:(?!```).*\n)*?```)\n", re.M)
CUT = "…"
# Values that change with the code or the archive itself rather than with what an example shows: the store's
# generation (a digest of its content) and the ETags (derived from the code version and the generation).
VOLATILE = (
    (re.compile(r'("generation": )"[0-9a-f]+"'), r'\1"…"'),
    (re.compile(r'(ETag: W/)"[0-9a-f]+"'), r'\1"…"'),
)


@dataclass
class Example:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> Example:
        request, *rest = [part.strip() for part in spec.split(" | ")]
        method, path = request.split(" ", 1)
        example = cls(method, path)
        for part in rest:
            if re.match(r"^[A-Za-z-]+: ", part):
                name, value = part.split(": ", 1)
                example.headers[name] = value
            else:
                name, _, value = part.partition("=")
                example.options[name] = value
        return example

    @property
    def title(self) -> str:
        return " · ".join([f"{self.method} {self.path}", *(f"{k}: {v}" for k, v in self.headers.items())])


def _cut(value, strings: int | None, items: int | None):
    if isinstance(value, dict):
        return {k: _cut(v, strings, items) for k, v in value.items()}
    if isinstance(value, list):
        kept = [_cut(v, strings, items) for v in value[: items or None]]
        return kept + [CUT] if items and len(value) > items else kept
    if isinstance(value, str) and strings and len(value) > strings:
        return value[:strings].rstrip() + CUT
    return value


def format_json(value, indent: int = 0) -> str:
    """JSON with every object or list on one line when it fits in WIDTH columns, else one member a line."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent + len(flat) <= WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        members = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {format_json(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + format_json(v, indent + 2) for v in value) + "\n" + " " * indent + "]"


def render(client, example: Example) -> str:
    """The fenced block showing the response to one example."""
    response = client.open(example.path, method=example.method, headers=example.headers)
    opts = example.options
    lines = []
    if "headers" in opts:
        lines.append(f"HTTP/1.1 {response.status}")
        for name in filter(None, opts["headers"].split(",")):
            if name in response.headers:
                lines.append(f"{name}: {response.headers[name]}")
    body = "" if opts.get("body") == "no" else response.get_data(as_text=True)  # an image's bytes are not text
    language = "text"
    if opts.get("body") != "no" and body:
        if response.is_json or response.mimetype.endswith("json"):
            language = "json"
            data = json.loads(body)
            if "pick" in opts:
                data = {k: data[k] for k in opts["pick"].split(",") if k in data}
            data = _cut(data, int(opts.get("strings") or 0) or None, int(opts.get("items") or 0) or None)
            body = format_json(data)
        elif "lines" in opts:
            kept = body.splitlines()[: int(opts["lines"])]
            body = "\n".join(kept) + "\n" + CUT
        if response.mimetype.endswith("xml"):
            language = "xml"
        lines += [""] * bool(lines) + [body.rstrip("\n")]
    if "headers" in opts:
        language = "http"
    return f'```{language} title="{example.title}"\n' + "\n".join(lines) + "\n```"


@contextmanager
def sample_client() -> Iterator:
    """A test client of the app over the sample archive, loaded with the clock frozen."""
    from api import clock
    from api.app import create_app
    from api.ingest import load_archive

    with tempfile.TemporaryDirectory(prefix="bulletin-examples-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'store.sqlite'}"
        clock.freeze(FROZEN_AT)
        try:
            load_archive(ARCHIVE, url)
            app = create_app(
                # A fixed signing secret: the guide's cursors and ETags must not depend on the machine's own.
                {
                    "DATABASE_URL": url,
                    "CACHE_REDIS_URL": None,
                    "PUBLIC_BASE_URL": BASE_URL,
                    "RATELIMIT_ENABLED": False,
                    "SIGNING_SECRET": "api-guide-examples",
                }  # fmt: skip
            )
            try:
                yield app.test_client()
            finally:
                app.extensions["store"].dispose()
        finally:
            clock.freeze(None)


def examples(text: str) -> list[Example]:
    return [Example.parse(m["spec"]) for m in MARKER.finditer(text)]


def regenerate(text: str, client) -> str:
    """`text` with the block after every example marker replaced by the response."""
    return MARKER.sub(lambda m: f"<!-- example: {m['spec']} -->\n{render(client, Example.parse(m['spec']))}\n", text)


def normalise(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    current = GUIDE.read_text(encoding="utf-8")
    with sample_client() as client:
        fresh = regenerate(current, client)
    if args.check:
        if normalise(fresh) == normalise(current):
            return 0
        diff = difflib.unified_diff(current.splitlines(), fresh.splitlines(), "docs/api.md", "generated", lineterm="")
        print("\n".join(diff))
        return 1
    GUIDE.write_text(fresh, encoding="utf-8")
    print(f"docs/api.md: {len(examples(fresh))} examples written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
