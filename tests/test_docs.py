"""The documentation builds strictly, every internal link and anchor resolves, and the README stays short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_LIMIT = 12 * 1024
# An issue-tracker reference: the word issue followed by a number, or a bare hash and number (not an HTML entity
# such as &#39;, not a date such as "issue 2022-02-14").
ISSUE_NUMBER = re.compile(r"\bissues? #?\d+\b(?!-)|(?<![&\w])#\d+\b", re.IGNORECASE)
CITING_ROOTS = ("README.md", "Makefile", "mkdocs.yml", "wsgi.py", "api", "schemas", "bench", "tests", "docs")
HASH = "#"
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


class _Page(HTMLParser):
    """Every id of an HTML page and every link it makes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if found.get(name):
                self.ids.add(found[name])
        for name in ("href", "src"):
            if found.get(name) is not None:
                self.links.append(found[name])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _is_external(link: str) -> bool:
    parts = urlsplit(link)
    return bool(parts.scheme or parts.netloc)


def broken_links(site: Path) -> list[str]:
    """Internal href/src of the built site whose file or anchor does not exist, as `page: link`."""
    pages = {path: _parse(path) for path in site.rglob("*.html")}
    broken = []
    for page_path, page in sorted(pages.items()):
        for link in page.links:
            if _is_external(link):
                continue
            parts = urlsplit(link)
            base = site if parts.path.startswith("/") else page_path.parent
            target = (base / unquote(parts.path).lstrip("/")).resolve() if parts.path else page_path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or site.resolve() not in target.parents:
                broken.append(f"{page_path.relative_to(site)}: {link}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    broken.append(f"{page_path.relative_to(site)}: {link}")
    return broken


def build(site: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    result = build(site)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return site


def test_docs_build_strict_without_warnings(site):
    assert {p.name for p in site.glob("*.html")} >= {
        "index.html",
        "api.html",
        "archive.html",
        "operations.html",
        "performance.html",
        "reliability.html",
        "contributing.html",
    }


def test_docs_every_internal_link_and_anchor_resolves(site):
    assert broken_links(site) == []


def test_docs_link_checker_finds_a_missing_anchor_and_page(tmp_path):
    (tmp_path / "a.html").write_text('<h2 id="here">x</h2><a href="#here">ok</a><a href="b.html#gone">b</a>')
    (tmp_path / "b.html").write_text('<a href="a.html#here">ok</a><a href="missing.html">no</a><img src="x.png">')
    assert broken_links(tmp_path) == ["a.html: b.html#gone", "b.html: missing.html", "b.html: x.png"]


def test_docs_strict_build_fails_on_a_broken_anchor(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[there](other.md#no-such-heading)\n")
    (docs / "other.md").write_text("# Other\n\n## A heading\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        (ROOT / "mkdocs.yml")
        .read_text(encoding="utf-8")
        .split("\nnav:")[0]
        .replace("docs_dir: docs", f"docs_dir: {docs}")
        + "\nvalidation:\n  links:\n    anchors: warn\n"
    )
    result = build(tmp_path / "site", config)
    assert result.returncode != 0
    assert "no-such-heading" in result.stderr


def test_readme_is_at_most_12_kb():
    assert (ROOT / "README.md").stat().st_size <= README_LIMIT


def test_readme_links_resolve(site):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    broken = []
    for link in MARKDOWN_LINK.findall(text):
        if _is_external(link):
            continue
        parts = urlsplit(link)
        target = ROOT / unquote(parts.path)
        in_docs = target.parent == ROOT / "docs" and target.suffix == ".md"
        if not target.exists() or (
            in_docs and parts.fragment and parts.fragment not in _parse(site / target.with_suffix(".html").name).ids
        ):
            broken.append(link)
    assert broken == []


def _cited_issue_numbers() -> list[str]:
    hits = []
    for name in CITING_ROOTS:
        base = ROOT / name
        files = [base] if base.is_file() else [*base.rglob("*.py"), *base.rglob("*.md")]
        for path in sorted(files):
            if "vendor" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ISSUE_NUMBER.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    return hits


def test_no_doc_docstring_or_test_cites_an_issue_number():
    assert _cited_issue_numbers() == []


@pytest.mark.parametrize(
    ("line", "cites"),
    [
        # Built from pieces so that this file does not cite what it shows.
        (f"The change feed (issue {HASH}5) on both backends", True),
        ("`make bench`: issue " + "6's benchmark", True),
        (f"see {HASH}12 for details", True),
        ("the issue 2022-02-14 holds six articles", False),
        ("'&#106;avascript:alert(1)'", False),
        ("GET /v1/issues/2022-W07", False),
    ],
)
def test_issue_number_pattern(line, cites):
    assert bool(ISSUE_NUMBER.search(line)) is cites
