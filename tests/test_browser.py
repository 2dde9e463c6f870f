"""The docs and the reader in a real headless Chromium (Debian's), driven by Playwright; screenshots in test-artifacts/."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import ARCHIVE, SEED_SLUG, copy_archive, load_archive, make_app
from tests.test_blocks import DOC, EVERYTHING

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SEED_TITLE = "Minsk sends conflicting signals about the expanding Russian military presence"
SEED_ISSUE = "2022-02-14"


def _chromium() -> str:
    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Debian's chromium is not installed, and REQUIRE_SERVICES=1 forbids skipping the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free loopback port (werkzeug, threaded) with the sample archive loaded."""
    work = tmp_path_factory.mktemp("browser")
    archive = copy_archive(work, ARCHIVE)  # the sample, and a document using every block kind
    (archive / "2022-01-31" / "every-construct.en.md").write_text(DOC + EVERYTHING, encoding="utf-8")
    Image.new("RGB", (700, 400), (30, 60, 90)).save(archive / "media" / "map.png")  # the image it shows
    url = f"sqlite:///{work / 'store.sqlite'}"
    load_archive(archive, url, schema=None)
    app = make_app({"DATABASE_URL": url, "DATABASE_SCHEMA": None, "CACHE_REDIS_URL": ""})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)
    srv.server_close()
    app.extensions["store"].dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield browser
        browser.close()


def _until(page, expression: str, timeout: float = 30.0) -> None:
    """Wait until `expression` is true in the page, polled from here: Playwright's wait_for_function evaluates its
    string again on each poll, which the reader's CSP (no 'unsafe-eval') refuses once the first check has failed
    (microsoft/playwright#7395); a fresh evaluate each time is allowed."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {expression}"
        time.sleep(0.05)


def _api(app, path):
    client = app.test_client()
    resp = client.get(path)
    assert resp.status_code == 200, path
    return resp.get_json()


def test_docs_lists_every_operation(server, browser):
    """/docs lists every operation as HTML at once; Swagger UI loads on request and lists the same ones."""
    app, base = server
    spec = _api(app, "/v1/openapi.json")
    expected = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    page = browser.new_page()
    errors, scripts = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(f"{base}/docs")
    page.wait_for_selector("#load-console:not(.pending)")
    static = {
        tuple(p)
        for p in page.eval_on_selector_all("section.op", "els => els.map(e => [e.dataset.method, e.dataset.path])")
    }
    assert static == expected
    assert not [u for u in scripts if "swagger" in u]  # not loaded until asked for
    page.click("#load-console")
    page.wait_for_selector(".opblock", timeout=20000)
    listed = {
        tuple(pair)
        for pair in page.eval_on_selector_all(
            ".opblock",
            "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent.trim(),"
            " e.querySelector('.opblock-summary-path').getAttribute('data-path')])",
        )
    }
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=True)
    assert listed == expected
    assert not errors, errors  # no CSP violation, no missing favicon
    page.close()


def test_reader_issue_article_and_heatmap(server, browser):
    app, base = server
    page = browser.new_page()
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-ready='1'] #issue")
    latest = _api(app, "/v1/issues/latest")["data"]
    assert page.text_content("#issue-title") == latest["title"]
    page.screenshot(path=str(ARTIFACTS / "reader-latest.png"), full_page=True)

    # earlier issues: navigate to the seed's issue through the issue list
    page.click(f"#issue-list li[data-issue='{SEED_ISSUE}'] a")
    page.wait_for_selector(f"#issue[data-issue='{SEED_ISSUE}']")
    item = page.locator(f"li[data-slug='{SEED_SLUG}']")
    assert item.locator("a").text_content() == SEED_TITLE
    assert "trend-worse" in item.locator(".trend").get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "reader-seed-issue.png"), full_page=True)

    # the article view
    item.locator("a").click()
    page.wait_for_selector(f"#article[data-slug='{SEED_SLUG}']")
    assert page.text_content("#article-title") == SEED_TITLE
    assert "Allied Resolve" in page.text_content("#article .body")
    assert "trend-worse" in page.locator("#article .trend").get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "reader-article.png"), full_page=True)

    _check_heatmap(app, page)
    # the language switch reloads labels and data in Russian
    page.select_option("#lang", "ru")
    _until(page, "document.documentElement.lang === 'ru'")
    page.wait_for_selector("#heatmap-panel h2:has-text('Тренды')")
    page.evaluate("location.hash = '#/'")  # back to the latest issue, now in Russian
    page.wait_for_selector("#issue-title:has-text('2022')")
    assert page.title() == "Ситуация в Беларуси — еженедельный бюллетень"
    assert page.text_content("#site-name") == "Ситуация в Беларуси"
    assert page.text_content("#issue-title") == _api(app, "/v1/issues/latest?lang=ru")["data"]["title"]
    assert "февраля" in page.text_content("#issue-title")
    assert "ухудшилась" in page.text_content("#legend")
    page.screenshot(path=str(ARTIFACTS / "reader-ru.png"), full_page=True)
    assert not csp_errors, csp_errors
    page.close()


def test_reader_draws_every_block_kind_and_the_related_articles(server, browser):
    """The article view draws the body from its blocks: headings keep their levels, quotes, nested lists, marks,
    links, code and tables (alignment and head row) render, and the related articles are listed under it."""
    app, base = server
    page = browser.new_page()
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(f"{base}/#/article/every-construct")
    page.wait_for_selector("body[data-ready='1'] #article[data-slug='every-construct']")
    body = page.locator("#article .body")
    heading = body.locator(".body-heading")
    assert heading.get_attribute("data-level") == "2" and heading.text_content() == "Reading the week"
    assert heading.evaluate("e => e.tagName") == "H4"  # one rank under the article's own h2 title
    first = body.locator("p").first
    assert first.locator("strong").text_content() == "bold" and first.locator("em").text_content() == "italic"
    assert first.locator("code").text_content() == "code"
    assert first.locator("a").get_attribute("href") == "https://example.org/report?a=1&b=2"
    assert body.locator("blockquote em").text_content() == "remark"
    assert body.locator("blockquote strong").text_content() == "weight"
    assert body.locator("ul > li").nth(0).locator("ol > li").all_text_contents() == ["nested one", "nested two"]
    assert body.locator("pre code").text_content() == 'print("hi")'
    assert body.locator("pre code").get_attribute("data-language") == "python"
    table = body.locator("table.body-table")
    assert table.locator("thead th").all_text_contents() == ["Region", "Output", "Change"]
    assert table.locator("thead th strong").text_content() == "Output"
    rows = table.locator("tbody tr")
    assert rows.count() == 2 and rows.nth(0).locator("td").all_text_contents() == ["Minsk", "up", "+3%"]
    assert rows.nth(0).locator("td a").get_attribute("href") == "https://example.org/minsk"
    aligned = (
        table.locator("tbody tr")
        .nth(0)
        .locator("td")
        .evaluate_all("els => els.map(e => getComputedStyle(e).textAlign)")
    )
    assert aligned == ["left", "center", "right"]
    assert body.locator("code", has_text="+3%").count() == 1
    related = [s["slug"] for s in _api(app, "/v1/articles/every-construct/related")["data"]]
    assert related and page.eval_on_selector_all("#related li", "els => els.map(e => e.dataset.slug)") == related
    page.screenshot(path=str(ARTIFACTS / "reader-blocks.png"), full_page=True)
    assert not failed and not errors, (failed, errors)  # its image too: a file of the archive, served
    page.close()


def _check_heatmap(app, page):
    timeline = _api(app, "/v1/trends/timeline?lang=en")
    page.wait_for_selector("table.heatmap")
    cells = page.eval_on_selector_all(
        "td.cell", "els => els.map(e => [e.dataset.section, e.dataset.issue, e.dataset.direction])"
    )
    expected = [(c["section"]["slug"], c["issue"]["id"], c["direction"]) for c in timeline["data"]]
    assert sorted(map(tuple, cells)) == sorted(expected)
    assert (  # one cell per (section, week) that has articles, and the seed's is among them
        "security-issues",
        SEED_ISSUE,
        "worse",
    ) in expected
    colours = page.eval_on_selector_all(  # coloured by direction: one colour per direction, none the empty grey
        "td.cell", "els => els.map(e => [e.dataset.direction, getComputedStyle(e).backgroundColor])"
    )
    by_direction = {direction: {colour for d, colour in colours if d == direction} for direction, _ in colours}
    empty = page.eval_on_selector("td.cell-empty", "e => getComputedStyle(e).backgroundColor")
    assert all(len(c) == 1 and empty not in c for c in by_direction.values()), by_direction
    assert len({next(iter(c)) for c in by_direction.values()}) == len(by_direction)
    # a legend naming each colour, and the year over the weeks' columns
    legend = page.eval_on_selector_all("#legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert set(legend) >= {next(iter(c)) for c in by_direction.values()}  # every colour shown is explained
    years = page.eval_on_selector_all("thead tr.years th", "els => els.map(e => [e.textContent, e.colSpan])")
    weeks = timeline["meta"]["issues"]
    assert [y for y, _ in years] == sorted({w[:4] for w in weeks}) and sum(n for _, n in years) == len(weeks)
    _check_contrast(page, "td.cell a, .trend, #legend .swatch, .note, th, a")
    page.screenshot(path=str(ARTIFACTS / "reader-heatmap.png"), full_page=True)
    page.click(f"td.cell[data-section='security-issues'][data-issue='{SEED_ISSUE}'] a")
    page.wait_for_selector(f"#article-list li[data-slug='{SEED_SLUG}']")


CONTRAST = """els => els.filter(e => e.offsetParent !== null && e.textContent.trim()).map(e => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let node = e, bg = null;
  while (node && !bg) { const c = rgb(getComputedStyle(node).backgroundColor); if (c.length < 4 || c[3] > 0) bg = c; node = node.parentElement; }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(bg)].sort((x, y) => y - x);
  return [e.outerHTML.slice(0, 80), (a + 0.05) / (b + 0.05)];
})"""


def _check_contrast(page, selector):
    """WCAG AA: text at least 4.5:1 against the background it is drawn on (the nearest painted ancestor)."""
    ratios = page.eval_on_selector_all(selector, CONTRAST)
    assert ratios and not [(html, round(r, 2)) for html, r in ratios if r < 4.5]


def test_reader_on_a_phone_says_the_heat_map_scrolls(server, browser):
    app, base = server
    phone = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.goto(f"{base}/")
    page.wait_for_selector("table.heatmap")
    page.wait_for_selector("#heat-hint:not([hidden])")
    assert page.eval_on_selector("#heatmap", "e => e.scrollWidth > e.clientWidth")
    assert page.is_visible("#heat-hint") and "→" in page.text_content("#heat-hint")
    page.screenshot(path=str(ARTIFACTS / "reader-phone.png"), full_page=True)
    phone.close()
    wide = browser.new_context(viewport={"width": 1600, "height": 900})
    page = wide.new_page()
    page.goto(f"{base}/")
    page.wait_for_selector("table.heatmap")
    assert page.eval_on_selector("#heatmap", "e => e.scrollWidth <= e.clientWidth + 1")
    assert page.is_hidden("#heat-hint")  # nothing to scroll, nothing said
    wide.close()


def test_reader_without_javascript(server, browser):
    app, base = server
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/")
    latest = _api(app, "/v1/issues/latest")["data"]
    text = page.text_content("#fallback")
    assert latest["title"] in text
    for group in latest["sections"]:
        for article in group["articles"]:
            assert article["title"] in text
    page.screenshot(path=str(ARTIFACTS / "reader-no-js.png"), full_page=True)
    context.close()


def test_reader_shows_images_sized_with_srcset_and_alt(server, browser):
    """The lead image and an inline one: loaded from their renditions, the space kept by width and height (no
    layout shift), alt text, a WebP srcset with sizes, and the body's image loading lazily."""
    app, base = server
    page = browser.new_page(viewport={"width": 800, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/#/article/belarus-budget-deficit-widens")
    lead = page.locator("#article figure.lead-image img")
    lead.wait_for()
    _until(page, "document.querySelector('figure.lead-image img').complete")
    image = _api(app, "/v1/articles/belarus-budget-deficit-widens")["data"]["image"]
    assert lead.get_attribute("alt") == image["alt"]
    assert (lead.get_attribute("width"), lead.get_attribute("height")) == ("1280", "720")
    assert lead.get_attribute("srcset").count("w, ") == 2 and "(min-width: 42rem)" in lead.get_attribute("sizes")
    chosen = lead.evaluate("i => [i.naturalWidth, i.currentSrc]")
    webp = {r["url"].rsplit("/", 1)[-1] for r in image["renditions"] if r["type"] == "image/webp"}
    assert chosen[0] > 0 and chosen[1].rsplit("/", 1)[-1] in webp, chosen  # loaded, from the srcset
    box = lead.bounding_box()
    assert abs(box["width"] / box["height"] - 16 / 9) < 0.02  # laid out at its own aspect ratio
    page.screenshot(path=str(ARTIFACTS / "reader-lead-image.png"), full_page=True)

    page.goto(f"{base}/#/article/sanctions-shock-hits-rouble-banks-and-exports")
    inline = page.locator("#article .body img")
    inline.wait_for()
    assert inline.get_attribute("loading") == "lazy" and inline.get_attribute("alt").startswith("Line chart")
    assert (inline.get_attribute("width"), inline.get_attribute("height")) == ("960", "540")
    inline.scroll_into_view_if_needed()
    _until(page, "document.querySelector('#article .body img').naturalWidth > 0")
    assert not errors, errors
    page.close()
