"""Lighthouse on the reader and the docs, phone profile: accessibility and best practices at 95 or more, and the
page weight and request count that drive the performance score (the score itself is `make bench-pages`)."""

from __future__ import annotations

import os

import pytest

from tests import lighthouse
from tests.conftest import ARTIFACTS, record_figures

pytestmark = pytest.mark.browser

# Budgets with room over today's figures (reader 13 KiB in 7 requests, docs 40 KiB in 4), far under what made the
# docs slow on a phone (1.9 MB, the Swagger bundle uncompressed).
BUDGETS = {"/": (60_000, 10), "/docs": (100_000, 6)}


@pytest.fixture(scope="module")
def reports():
    why = lighthouse.missing()
    if why:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail(f"{why}, and REQUIRE_SERVICES=1 forbids skipping the Lighthouse test")
        pytest.skip(why)
    with lighthouse.sample_server() as base:
        yield {page: lighthouse.run(base + page, ARTIFACTS) for page in lighthouse.PAGES}


@pytest.mark.parametrize("page", lighthouse.PAGES)
def test_accessibility_and_best_practices_on_a_phone(reports, page):
    report = reports[page]
    assert report["configSettings"]["formFactor"] == "mobile"
    assert not report.get("runtimeError"), report.get("runtimeError")
    scores = lighthouse.scores(report)
    record_figures("lighthouse", **{f"{page} {k}": scores[k] for k in ("accessibility", "best-practices")})
    for category in ("accessibility", "best-practices"):
        assert scores[category] >= 95, (category, scores[category], lighthouse.failed_audits(report, category))
    assert report["audits"]["errors-in-console"]["score"] == 1, report["audits"]["errors-in-console"]["details"]


@pytest.mark.parametrize("page", lighthouse.PAGES)
def test_page_weight_and_request_count_on_a_phone(reports, page):
    total, urls = lighthouse.weight(reports[page])
    record_figures("lighthouse", **{f"{page} bytes": total, f"{page} requests": len(urls)})
    max_bytes, max_requests = BUDGETS[page]
    assert total <= max_bytes and len(urls) <= max_requests, (total, urls)
    assert not [u for u in urls if "swagger" in u]  # the interactive console loads only when asked for
    assert not [u for u in urls if "/static/" in u or u.endswith("/favicon.ico")]  # fingerprinted assets only
    assert reports[page]["audits"]["cumulative-layout-shift"]["numericValue"] < 0.01  # nothing jumps on arrival
