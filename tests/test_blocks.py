"""The block model: HTML and text are rendered from the blocks, and nothing of the Markdown is lost."""

from __future__ import annotations

import html as htmllib
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.ingest.loader import load_archive
from api.ingest.text import (
    blocks_to_html,
    blocks_to_text,
    markdown_to_blocks,
    reading_minutes,
    sanitize_html,
    word_count,
)
from tests.conftest import ARCHIVE, copy_archive, make_app, walk

EVERYTHING = """\
## Reading the week

Plain words with **bold**, *italic*, `code` and a [link](https://example.org/report?a=1&b=2 "Report").

> A quoted *remark* with **weight**.

- first item
  1. nested one
  2. nested two
- second item

![A map of the region](../media/map.png "The region")

```python
print("hi")
```

| Region | **Output** | Change |
|:-------|:----------:|-------:|
| Minsk | [up](https://example.org/minsk) | `+3%` |
| Brest | |
"""

DOC = """\
---
slug: every-construct
title: "Every construct"
lang: en
issue: 2022-01-31
section: economy
trend: better
position: 9
authors: ["Analytical group"]
status: published
published_at: 2022-02-07T09:00:00Z
lead: "A document that uses every construct."
---
"""


def _walk(blocks):
    for block in blocks:
        yield block
        yield from _walk(block.get("blocks", []))
        for entry in block.get("entries", []):
            yield from _walk(entry["blocks"])


def _check_everything(blocks: list[dict], body_html: str, body_text: str, served: bool = False) -> None:
    """Every construct is there; `served`: the image went through the loader (a 700 × 400 PNG of the archive)."""
    kinds = [b["type"] for b in _walk(blocks)]
    assert {"heading", "paragraph", "quote", "list", "image", "code", "table"} <= set(kinds)
    heading = next(b for b in _walk(blocks) if b["type"] == "heading")
    assert (heading["level"], heading["text"]) == (2, "Reading the week")
    para = next(b for b in blocks if b["type"] == "paragraph")
    marks = {c["text"]: c["marks"] for c in para["children"]}
    assert marks["bold"] == ["strong"] and marks["italic"] == ["em"] and marks["code"] == ["code"]
    (link,) = para["markDefs"]
    assert link["href"] == "https://example.org/report?a=1&b=2" and marks["link"] == [link["key"]]
    quote = next(b for b in blocks if b["type"] == "quote")
    assert [c["marks"] for c in quote["blocks"][0]["children"] if c["text"] in ("remark", "weight")] == [
        ["em"],
        ["strong"],
    ]
    outer = next(b for b in blocks if b["type"] == "list")
    assert outer["ordered"] is False and outer["items"] == ["first item", "second item"]
    nested = outer["entries"][0]["blocks"][1]
    assert nested["type"] == "list" and nested["ordered"] is True and nested["items"] == ["nested one", "nested two"]
    image = next(b for b in blocks if b["type"] == "image")
    assert (image["alt"], image["caption"]) == ("A map of the region", "The region")
    if served:
        assert image["src"] == image["url"] and re.fullmatch(
            r"http://localhost/media/[0-9a-f]{20}-700\.png", image["url"]
        )
        assert (image["width"], image["height"]) == (700, 400)
        assert [(r["width"], r["type"]) for r in image["renditions"]] == [
            (320, "image/webp"), (320, "image/png"), (640, "image/webp"), (640, "image/png"), (700, "image/webp"),
            (700, "image/png"),
        ]  # fmt: skip
        img = f'<img src="{image["url"]}" srcset="'
    else:
        assert (image["src"], image["url"], image["renditions"]) == ("../media/map.png", "../media/map.png", [])
        img = '<img src="../media/map.png" alt="A map of the region" loading="lazy" decoding="async">'
    code = next(b for b in blocks if b["type"] == "code")
    assert (code["language"], code["text"]) == ("python", 'print("hi")')
    table = next(b for b in blocks if b["type"] == "table")
    assert table["align"] == ["left", "center", "right"]
    assert [r["header"] for r in table["rows"]] == [True, False, False]
    assert [[c["text"] for c in r["cells"]] for r in table["rows"]] == [
        ["Region", "Output", "Change"],
        ["Minsk", "up", "+3%"],
        ["Brest", "", ""],
    ]
    head, minsk = table["rows"][0]["cells"], table["rows"][1]["cells"]
    assert head[1]["children"] == [{"type": "span", "text": "Output", "marks": ["strong"]}]
    (cell_link,) = minsk[1]["markDefs"]
    assert cell_link["href"] == "https://example.org/minsk" and minsk[1]["children"][0]["marks"] == [cell_link["key"]]
    assert minsk[2]["children"] == [{"type": "span", "text": "+3%", "marks": ["code"]}]
    for fragment in (
        "<h2>Reading the week</h2>",
        "<strong>bold</strong>",
        "<em>italic</em>",
        "<code>code</code>",
        'href="https://example.org/report?a=1&amp;b=2"',
        "<blockquote><p>A quoted <em>remark</em>",
        "<ol><li>nested one</li><li>nested two</li></ol>",
        img,
        '<pre><code>print("hi")</code></pre>',
        '<thead><tr><th align="left">Region</th><th align="center"><strong>Output</strong></th>',
        '<td align="center"><a href="https://example.org/minsk" rel="noopener nofollow">up</a></td>',
        '<td align="right"><code>+3%</code></td>',
        '<tr><td align="left">Brest</td><td align="center"></td><td align="right"></td></tr></tbody></table>',
    ):
        assert fragment in body_html
    assert "<p></p>" not in body_html
    for words in (
        "Reading the week",
        "bold",
        "A quoted remark",
        "• first item",
        "  1) nested one",
        "A map of the region",
        "Region\tOutput\tChange\nMinsk\tup\t+3%\nBrest\t\t",
    ):
        assert words in body_text
    if served:  # served URLs are absolute: the stored HTML and blocks hold them relative to the API root
        body_html, blocks = body_html.replace("http://localhost/media/", "/media/"), _relative(blocks)
    assert body_html == blocks_to_html(blocks) and body_text == blocks_to_text(blocks)


def _unmedia(value):
    """Blocks with each image reduced to what the Markdown says of it (alt, caption, credit)."""
    if isinstance(value, list):
        return [_unmedia(v) for v in value]
    if isinstance(value, dict):
        if value.get("type") == "image":
            return {k: value[k] for k in ("type", "alt", "caption", "credit")}
        return {k: _unmedia(v) for k, v in value.items()}
    return value


def _relative(value):
    if isinstance(value, str):
        return value.replace("http://localhost/media/", "/media/")
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    return value


def test_a_document_with_every_construct_loses_nothing_in_blocks():
    body_html, blocks = markdown_to_blocks(EVERYTHING)
    _check_everything(blocks, body_html, blocks_to_text(blocks))


def test_every_construct_round_trips_through_the_store_and_the_api(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    (archive / "2022-01-31" / "every-construct.en.md").write_text(DOC + EVERYTHING, encoding="utf-8")
    Image.new("RGB", (700, 400), (30, 60, 90)).save(archive / "media" / "map.png")
    load_archive(archive, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    try:
        client = app.test_client()
        body = {}
        for fmt in ("html", "text", "blocks"):
            response = client.get(f"/v1/articles/every-construct?format={fmt}")
            assert response.status_code == 200, response.get_data(as_text=True)
            body.update(response.get_json()["data"]["body"])
        _check_everything(body["blocks"], body["html"], body["text"], served=True)
    finally:
        app.extensions["store"].dispose()


def test_unsafe_link_is_dropped_from_every_format_alike():
    body_html, blocks = markdown_to_blocks("[x](javascript:alert(1)) and <script>alert(2)</script> end")
    assert "href" not in body_html and "<script" not in body_html and "alert(2)" not in body_html
    assert blocks[0]["markDefs"] == [] and "alert(2)" not in blocks_to_text(blocks)


# ---------------------------------------------------------------- property: one model, three formats

# A word never holds "![" (it is made "!"): it would be an image of its own, whose path (a word) lies outside
# media/ and is rightly rejected by the loader
_word = (
    st.text(alphabet="abcdefgh<>&\"'*_`[]()!#\\ ", min_size=1, max_size=12)
    .map(lambda w: w.replace("![", "!").strip())
    .filter(bool)
)
_inline = st.lists(
    st.one_of(
        _word,
        _word.map(lambda w: f"**{w}**"),
        _word.map(lambda w: f"*{w}*"),
        _word.map(lambda w: f"`{w}`"),
        st.tuples(_word, st.sampled_from(["https://a.org/x", "/v1/y", "mailto:a@b.c", "javascript:x()"])).map(
            lambda t: f"[{t[0]}]({t[1]})"
        ),
        # an image's alt text without brackets, backslashes, code or HTML (they are dropped): those would end the
        # alt text early and make the rest of it the image's path, one outside media/ that the loader rightly rejects
        _word.map(lambda w: "".join(c for c in w if c not in "[]()\\`<>") or "alt").map(
            lambda w: f"![{w}](../media/{abs(hash(w)) % 97}.png)"
        ),
    ),
    min_size=1,
    max_size=5,
).map(" ".join)
_block = st.one_of(
    _inline,
    st.tuples(st.integers(1, 6), _inline).map(lambda t: "#" * t[0] + " " + t[1]),
    _inline.map(lambda s: "> " + s),
    st.lists(_inline, min_size=1, max_size=3).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.lists(_inline, min_size=1, max_size=3).map(lambda items: "\n".join(f"1. {i}\n   - {i}" for i in items)),
    _word.map(lambda w: f"```\n{w}\n```"),
    st.integers(1, 3)
    .flatmap(
        lambda n: st.tuples(
            st.lists(_inline, min_size=n, max_size=n),
            st.lists(st.sampled_from(["---", ":--", ":-:", "--:"]), min_size=n, max_size=n),
            st.lists(st.lists(_inline, min_size=1, max_size=n), max_size=3),
        )
    )
    .map(lambda t: "\n".join("| " + " | ".join(row) + " |" for row in (t[0], t[1], *t[2]))),
)
_document = st.lists(_block, min_size=1, max_size=6).map("\n\n".join)


def _visible_text(markup: str) -> str:
    return re.sub(r"\s+", "", htmllib.unescape(re.sub(r"<[^>]+>", "", markup)))


@settings(max_examples=150, deadline=None)
@given(_document)
def test_html_and_text_are_the_blocks_rendered(source):
    body_html, blocks = markdown_to_blocks(source)
    assert body_html == blocks_to_html(blocks)
    assert sanitize_html(body_html) == body_html
    text = blocks_to_text(blocks)
    # The words the HTML shows are the words of the text (bullets and image alt texts aside).
    shown = _visible_text(body_html)
    words = re.sub(r"\s+", "", re.sub(r"^(?:\s*(?:•|\d+\)))+", "", text, flags=re.M))
    alts = "".join(re.sub(r"\s+", "", b["alt"]) for b in _walk(blocks) if b["type"] == "image")
    assert sorted(words) == sorted(shown + alts)
    tables = [b for b in _walk(blocks) if b["type"] == "table"]
    assert body_html.count("<table>") == len(tables)
    for table in tables:  # every row of a table has a cell per column, each alignment a known one
        assert all(len(r["cells"]) == len(table["align"]) for r in table["rows"])
        assert set(table["align"]) <= {None, "left", "center", "right"}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_document.filter(lambda d: markdown_to_blocks(d)[1]), min_size=2, max_size=4))
def test_served_html_and_text_are_the_served_blocks_rendered(scratch_store, documents):
    """Generated documents (tables among them) loaded into this backend: each format the API serves derives from
    the blocks it serves, so no format holds what another lacks."""
    with tempfile.TemporaryDirectory() as tmp:
        week = Path(tmp) / "2022-01-31"
        week.mkdir()
        (Path(tmp) / "media").mkdir()
        Image.new("RGB", (700, 400), (30, 60, 90)).save(Path(tmp) / "media" / "map.png")  # DOC's own image
        for name in {m for source in documents for m in re.findall(r"\.\./media/(\d+\.png)", source)}:
            Image.new("RGB", (8, 8), (200, 10, 10)).save(Path(tmp) / "media" / name)  # what generated images name
        for n, source in enumerate(documents):
            head = DOC.replace("every-construct", f"generated-{n}").replace("position: 9", f"position: {n + 1}")
            head = head.replace("Every construct", f"Generated document {n}")  # merged as one article otherwise
            (week / f"generated-{n}.en.md").write_text(head + source + "\n", encoding="utf-8")
        load_archive(Path(tmp), scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    try:
        client = app.test_client()
        for n, source in enumerate(documents):
            body = {}
            for fmt in ("html", "text", "blocks"):
                response = client.get(f"/v1/articles/generated-{n}?format={fmt}")
                assert response.status_code == 200, response.get_data(as_text=True)
                body.update(response.get_json()["data"]["body"])
            # the loader gives an archive image its URL, size and renditions; the rest is the Markdown's own
            assert _unmedia(body["blocks"]) == _unmedia(markdown_to_blocks(source)[1])
            assert body["html"] == blocks_to_html(body["blocks"]) and body["text"] == blocks_to_text(body["blocks"])
    finally:
        app.extensions["store"].dispose()


# ---------------------------------------------------------------- word count and reading time


def test_word_count_keeps_hyphenated_and_apostrophe_words_whole():
    assert word_count("Don't re-read it 3 times — ever.") == 6
    assert word_count("Мінск і Варшава аднавілі перамовы") == 5


def test_reading_minutes_use_each_languages_rate_rounded_up():
    assert [reading_minutes(n, "en") for n in (0, 200, 201)] == [1, 1, 2]
    assert [reading_minutes(n, "ru") for n in (184, 185)] == [1, 2]
    assert reading_minutes(185, "be") == 2 and reading_minutes(185, "en") == 1


def test_summaries_and_items_count_the_words_of_lead_and_body(client):
    listed = walk(client, "/v1/articles?limit=50")
    assert listed and all("authors" not in a and "image" not in a for a in listed)
    for article in listed:
        item = client.get(f"/v1/articles/{article['slug']}?format=text").get_json()["data"]
        words = word_count(item["lead"] + "\n\n" + item["body"]["text"])
        assert article["word_count"] == item["word_count"] == words > 0
        assert item["reading_minutes"] == article["reading_minutes"] == reading_minutes(words, item["lang"])


def test_list_fields_may_name_authors_and_image(client):
    listed = walk(client, "/v1/articles?fields=title,authors,image&limit=50")
    assert listed and all(set(a) == {"slug", "title", "authors", "image"} for a in listed)
    for article in listed[:5]:
        item = client.get(f"/v1/articles/{article['slug']}").get_json()["data"]
        assert (article["authors"], article["image"]) == (item["authors"], item["image"])
    with_body = walk(client, "/v1/articles?format=blocks&fields=body,authors&limit=50")
    assert all(set(a) == {"slug", "body", "authors"} for a in with_body)


def test_list_fields_may_name_translations(client):
    listed = walk(client, "/v1/articles?fields=title,translations&limit=50")
    assert listed and all(set(a) == {"slug", "title", "translations"} for a in listed)
    assert any(a["translations"] for a in listed), "the sample archive holds a translated story"
    for article in listed:
        item = client.get(f"/v1/articles/{article['slug']}").get_json()["data"]
        assert article["translations"] == item["translations"]
        assert article["slug"] not in {t["slug"] for t in article["translations"].values()}
    assert all("translations" not in a for a in walk(client, "/v1/articles?fields=title,authors&limit=50"))
