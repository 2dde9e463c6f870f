"""The performance and reliability pages are what their committed result files render to."""

from __future__ import annotations

import json
import shutil

import pytest

from tools import doc_figures
from tools.doc_figures import PAGES, RESULTS, render


@pytest.mark.parametrize("page", sorted(PAGES))
def test_doc_figures_pages_regenerate_from_committed_results(page):
    current = PAGES[page].read_text(encoding="utf-8")
    assert render(page, current) == current, "run `make docs-figures` and commit the pages with docs/results/"


def test_doc_figures_every_table_names_its_command_and_code_version():
    for page in PAGES:
        section = doc_figures.SECTION.search(PAGES[page].read_text(encoding="utf-8"))[0]
        tables = section.count("\n| --- ") + section.count("\n| ---: ")
        assert section.count("code `") >= tables, page


def test_doc_figures_follow_their_result_files(tmp_path, monkeypatch):
    names = [p.name for p in RESULTS.glob("*.json")]
    if not names:
        pytest.skip("no committed result files")
    shutil.copytree(RESULTS, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(doc_figures, "RESULTS", tmp_path)
    before = {page: render(page, PAGES[page].read_text(encoding="utf-8")) for page in PAGES}
    for name in names:
        doc = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        prov = doc.get("provenance") or doc.get("_provenance", {})
        prov = prov if "command" in prov else next(iter(prov.values()))
        prov["code_version"] = "planted"
        (tmp_path / name).write_text(json.dumps(doc), encoding="utf-8")
    after = {page: render(page, before[page]) for page in PAGES}
    assert all(after[page] != before[page] for page in PAGES)
    assert sum(text.count("code `planted`") for text in after.values()) >= len(names)
