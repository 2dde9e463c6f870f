"""The text rules of ingest, pinned value by value: slugs, language detection, the sanitiser's policy, the block
model built from Markdown and its HTML and plain-text renderings.

Each expected value below is written from the rule (docs/archive.md and the docstrings of api/ingest/text.py),
not taken from the code's output; the properties run over generated documents. Fast, no store: the mutation
group of text.py runs this file for every mutant."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from api.ingest.text import (
    _clean,
    blocks_to_html,
    blocks_to_text,
    blocks_with_base,
    detect_language,
    html_with_base,
    image_block,
    image_blocks,
    image_with_base,
    markdown_to_blocks,
    paragraph,
    plain_list,
    reading_minutes,
    sanitize_html,
    slugify,
    span,
    text_block,
)
from tests.test_blocks import _document, _walk

FAST = settings(max_examples=100, deadline=None)
REL = ' rel="noopener nofollow"'

# ---------------------------------------------------------------- slugs

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("  --Leading and trailing--  ", "leading-and-trailing"),
        ("Минск — столица", "minsk-stolitsa"),
        ("Щука, жук и чай", "shchuka-zhuk-i-chai"),
        ("Ўсё і ёсць", "use-i-ests"),  # Belarusian ў and і, ё as e
        ("Объём, подъезд", "obem-podezd"),  # hard and soft signs vanish
        ("Don't re-read", "dont-re-read"),  # an apostrophe joins, a hyphen separates
        ("Lukashenka’s plan", "lukashenkas-plan"),
        ("Café Crème 2022", "cafe-creme-2022"),  # accents fall away (NFKD, then ASCII)
        ("Ｆｕｌｌｗｉｄｔｈ ＡＢＣ", "fullwidth-abc"),
        ("!!!", "untitled"),
        ("", "untitled"),
        ("ß", "ss"),  # casefold, not lower
    ],
)
def test_slugify_values(title, slug):
    assert slugify(title) == slug


def test_slugify_cuts_at_120_characters_without_a_trailing_hyphen():
    assert slugify("a" * 300) == "a" * 120
    assert slugify("a" * 119 + " b") == "a" * 119  # the cut falls after a hyphen, which goes
    assert slugify("a" * 120 + " b") == "a" * 120
    assert slugify("abc def", max_length=4) == "abc"
    assert slugify("abcdef", max_length=4) == "abcd"


@FAST
@given(st.text(max_size=60), st.integers(1, 40))
def test_slugify_is_lower_ascii_words_joined_by_single_hyphens(text, limit):
    slug = slugify(text, max_length=limit)
    assert slug == "untitled" or (SLUG.fullmatch(slug) and len(slug) <= limit)
    assert slugify(slug) == slug  # a slug is its own slug


# ---------------------------------------------------------------- language detection


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Plain English words", "en"),
        ("", "en"),
        ("abc абв", "en"),  # as many Latin letters as Cyrillic: English
        ("ab абв", "ru"),  # one Cyrillic letter more
        ("Простой текст", "ru"),
        ("ў", "be"),
        ("Ў", "be"),
        ("і", "be"),
        ("І", "be"),
        ("ўі и", "be"),  # two Belarusian marks against one Russian
        ("ўі ищ", "ru"),  # as many Russian marks: Russian
        ("і и", "ru"),
        ("ў щ", "ru"),
        ("і ъ", "ru"),
        ("ii ии і", "ru"),
        ("ІІ и", "be"),
        ("ЎЎ и", "be"),
        ("ЎЎ Щ", "be"),
        ("ЎЎ ЪЪ", "ru"),
        ("ЎЎЎ ИЩЪ", "ru"),
        ("ЎЎЎІ ИЩЪ", "be"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_reading_minutes_fall_back_to_the_house_rate():
    assert [reading_minutes(n, "xx") for n in (200, 201, 400, 401)] == [1, 2, 2, 3]
    assert reading_minutes(368, "ru") == 2 and reading_minutes(369, "ru") == 3


# ---------------------------------------------------------------- the sanitiser's policy


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # links: only href and title, safe schemes, rel set whatever the source says
        (
            '<a href="https://x.org/" title="t" onclick="y()" class="c" rel="opener" target="_top">x</a>',
            f'<a href="https://x.org/" title="t"{REL}>x</a>',
        ),
        ('<a href="mailto:a@b.org">m</a>', f'<a href="mailto:a@b.org"{REL}>m</a>'),
        ('<a href="http://x.org/">h</a>', f'<a href="http://x.org/"{REL}>h</a>'),
        ('<a href="/v1/articles">r</a>', f'<a href="/v1/articles"{REL}>r</a>'),
        ('<a href="ftp://x.org/f">f</a>', f"<a{REL}>f</a>"),
        ('<a href="tel:123">t</a>', f"<a{REL}>t</a>"),
        ('<a href="javascript:alert(1)">j</a>', f"<a{REL}>j</a>"),
        # images keep their safe attributes only
        (
            '<img src="m.png" alt="a" title="t" width="3" height="4" class="c" onerror="x()" style="s">',
            '<img src="m.png" alt="a" title="t" width="3" height="4">',
        ),
        ('<img src="ftp://x/m.png" alt="a">', '<img alt="a">'),
        ('<ol start="3" type="a" class="c"><li>x</li></ol>', '<ol start="3"><li>x</li></ol>'),
        ('<p class="c" id="i" style="color:red">p</p>', "<p>p</p>"),
        # structure and emphasis kept, everything else unwrapped to its text
        (
            "<h1>a</h1><h6>b</h6><blockquote>q</blockquote><pre><code>c</code></pre><b>b</b><i>i</i><br>",
            "<h1>a</h1><h6>b</h6><blockquote>q</blockquote><pre><code>c</code></pre><b>b</b><i>i</i><br>",
        ),
        ('<div>d</div><span>s</span><u>u</u><font color="red">f</font>', "dsuf"),
        # tables are kept, their structure only (a missing tbody is supplied), cells keep only their alignment
        (
            '<table border="1" title="t"><tr><td align="center" valign="top" style="x">t</td></tr></table>',
            '<table><tbody><tr><td align="center">t</td></tr></tbody></table>',
        ),
        ('<abbr title="x">a</abbr><sub>1</sub><sup>2</sup><small>s</small><del>d</del>', "a12sd"),
        # script and style vanish with their content
        ("<script>alert(1)</script>after", "after"),
        ("<style>p { color: red }</style>after", "after"),
        ('<iframe src="https://x.org/"></iframe>x', "x"),
        # comments go
        ("a<!-- note -->b", "ab"),
    ],
)
def test_sanitize_html_policy(raw, clean):
    assert sanitize_html(raw) == clean


def test_sanitize_html_cleans_until_a_fixed_point():
    # One pass leaves "<p><p></p></p>", which an HTML parser reads as two sibling paragraphs.
    for once in ("<p><object></p>", "<p><em><object></p></em>x", "<h1><object><h2>x</h2></object></h1>"):
        assert _clean(once) != _clean(_clean(once))  # one pass is not enough here
        clean = sanitize_html(once)
        assert clean == _clean(clean) and "object" not in clean
    # misnesting that takes more passes than any fixed count of four or five: anchors and tables inside headings
    # and list items settle one level a pass (six and seven passes here)
    for deep in (
        "<pre><a><ul><ul><em><blockquote><ol><tr><h2><ul><object><blockquote><ul><li><ol><ol><h2><blockquote><ol>"
        "<table><caption><code><ol><ol><h2><blockquote><pre><b><blockquote><ul><table><li><blockquote><blockquote><a>"
        "<td><pre>",
        "<a><tr><h2><ol><h3><ol><ul><h2><ul><pre><blockquote><ul><blockquote><h3><li><blockquote><li><tr><blockquote>"
        "<table><table><caption><ol><ol><ul><pre><ul><li><h2><pre><ol><ol><pre><blockquote><b><li><pre><pre><ol><a>",
    ):
        five = deep
        for _ in range(5):
            five = _clean(five)
        assert _clean(five) != five  # five passes are not enough
        clean = sanitize_html(deep)
        assert clean == _clean(clean) and sanitize_html(clean) == clean


def test_markup_that_never_settles_is_reduced_to_its_escaped_text(monkeypatch):
    """Past MAX_PASSES the sanitiser stops cleaning and keeps the text only: no tag, entities escaped, a fixed
    point (a hostile file cannot make it clean once per tag). Two passes are made too few for a seven-pass input."""
    from api.ingest import text

    monkeypatch.setattr(text, "MAX_PASSES", 2)
    deep = (
        "<a><tr><h2><ol><h3><ol><ul><h2><ul><pre><blockquote><ul><blockquote><h3><li><blockquote><li><tr><blockquote>"
        "<table><table><caption><ol><ol><ul><pre><ul><li><h2><pre><ol><ol><pre><blockquote><b><li><pre><pre><ol><a>"
        "x &amp; &lt;y&gt;"
    )
    assert _clean(_clean(_clean(deep))) != _clean(_clean(deep))  # three passes do not settle it
    clean = sanitize_html(deep)
    assert clean == "x &amp; &lt;y&gt;" and _clean(clean) == clean
    assert sanitize_html("<p>a</p>") == "<p>a</p>"  # what settles at once is kept as it is


# ---------------------------------------------------------------- blocks from Markdown


def _para(*children, defs=(), kind="paragraph", **extra):
    return text_block(kind, list(children), list(defs), **extra)


def _blocks(source: str) -> list[dict]:
    """The blocks of `source`, without the `_line` note the loader takes off image blocks (documents.py)."""
    return [{k: v for k, v in b.items() if k != "_line"} for b in markdown_to_blocks(source)[1]]


def test_spans_carry_their_marks_and_runs_of_one_mark_are_one_span():
    assert _blocks("Hello *big* **bold** `co de` world") == [
        _para(
            span("Hello "),
            span("big", ["em"]),
            span(" "),
            span("bold", ["strong"]),
            span(" "),
            span("co de", ["code"]),
            span(" world"),
        )  # fmt: skip
    ]
    # a soft break is a space, a hard break a newline; plain runs stay one span
    assert _blocks("one\ntwo  \nthree") == [_para(span("one two\nthree"))]
    assert _blocks("**a *b* `c`**") == [
        _para(
            span("a ", ["strong"]), span("b", ["strong", "em"]), span(" ", ["strong"]), span("c", ["strong", "code"])
        )  # fmt: skip
    ]


def test_links_become_mark_definitions_numbered_per_block():
    assert _blocks('[one](https://a.org/x "T") and [two](/v1/b)\n\n[three](mailto:c@d.org)') == [
        _para(
            span("one", ["l0"]),
            span(" and "),
            span("two", ["l1"]),
            defs=[
                {"key": "l0", "type": "link", "href": "https://a.org/x"},
                {"key": "l1", "type": "link", "href": "/v1/b"},
            ],
        ),  # fmt: skip
        _para(span("three", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "mailto:c@d.org"}]),
    ]
    # keys count on through the block, one per link
    assert [c["marks"] for c in _blocks("[a](/1) [b](/2) *[c](/3)* [d](/4)")[0]["children"]] == [
        ["l0"], [], ["l1"], [], ["em", "l2"], [], ["l3"],
    ]  # fmt: skip
    # emphasis inside a link keeps both marks, decorators first as they were opened
    assert _blocks("*[x](http://a.org)*") == [
        _para(span("x", ["em", "l0"]), defs=[{"key": "l0", "type": "link", "href": "http://a.org"}])
    ]


@pytest.mark.parametrize("href", ["ftp://a.org/f", "FTP://a.org/f", "Tel:123", "x-y:z", "a.b+c:d", " ftp://a.org"])
def test_a_link_of_an_unsafe_scheme_keeps_only_its_text(href):
    assert _blocks(f"see [x](<{href}>) now") == [_para(span("see x now"))]


@pytest.mark.parametrize("href", ["HTTPS://a.org", "Mailto:x@y.org", "/rel:ative", "page", "#frag", "?q=a:b"])
def test_a_link_of_a_safe_scheme_or_none_is_kept(href):
    assert _blocks(f"[x](<{href}>)") == [_para(span("x", ["l0"]), defs=[{"key": "l0", "type": "link", "href": href}])]


def test_an_image_at_the_top_of_a_paragraph_is_its_own_block():
    image = image_block("p.png", "A map", "The region")
    assert image == {"type": "image", "src": "p.png", "alt": "A map", "width": None, "height": None,
                     "caption": "The region", "credit": None, "url": "p.png", "renditions": []}  # fmt: skip
    assert image_block("p.png", "A map")["caption"] is None
    assert _blocks('before [l](/x) ![A map](p.png "The region") *after*') == [
        _para(span("before "), span("l", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "/x"}]),
        image,
        _para(span("after", ["em"])),
    ]
    assert _blocks("![A `b` c](p.png)") == [image_block("p.png", "A b c")]
    # emphasis around an image at the top of a paragraph still splits it out
    assert _blocks("**a ![i](p.png) *b***") == [
        _para(span("a", ["strong"])),
        image_block("p.png", "i"),
        _para(span("b", ["strong", "em"])),
    ]
    # in a heading, a link or an unsafe scheme an image is its alt text
    assert _blocks("## T ![i](p.png)") == [_para(span("T i"), kind="heading", level=2)]
    assert _blocks("[![i](p.png)](/x)") == [
        _para(span("i", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "/x"}])
    ]
    assert _blocks("a ![i](<ftp://x/p.png>)") == [_para(span("a i"))]


def test_a_paragraph_of_only_whitespace_around_an_image_leaves_no_empty_block():
    assert _blocks("  ![i](p.png)  \n\n![j](q.png)") == [image_block("p.png", "i"), image_block("q.png", "j")]
    assert _blocks("*a* ![i](p.png) **b**") == [_para(span("a", ["em"])), image_block("p.png", "i"),
                                                 _para(span("b", ["strong"]))]  # fmt: skip


def test_raw_inline_html_is_dropped_and_script_content_too():
    assert _blocks("a <b>bold</b> <script>hidden</script>c") == [_para(span("a bold c"))]
    assert _blocks("a <STYLE>x</style> b <script><script>x</script>y</script> z") == [_para(span("a  b  z"))]
    # an unmatched closing tag does not hide what follows
    assert _blocks("</script> x") == [_para(span("x"))]
    assert _blocks("a <script>b") == [_para(span("a"))]


def test_headings_quotes_lists_and_code():
    assert _blocks("### Three\n\nSetext\n===") == [
        _para(span("Three"), kind="heading", level=3),
        _para(span("Setext"), kind="heading", level=1),
    ]
    assert _blocks("> a\n>\n> *b*") == [{"type": "quote", "blocks": [_para(span("a")), _para(span("b", ["em"]))]}]
    assert _blocks(">\n\nx") == [_para(span("x"))]  # an empty quote is no block
    loose = _blocks("- a\n\n  b\n- c\n  1. d")
    assert loose == [
        {
            "type": "list",
            "ordered": False,
            "items": ["a b", "c"],
            "entries": [
                {"blocks": [_para(span("a")), _para(span("b"))]},
                {"blocks": [_para(span("c")), plain_list(True, ["d"])]},
            ],
        }
    ]
    assert _blocks("3. x\n4. y") == [{**plain_list(True, ["x", "y"]), "start": 3}]
    assert "start" not in _blocks("1. x")[0] and "start" not in _blocks("- x")[0]
    assert _blocks("0. x")[0]["start"] == 0
    assert _blocks("-\n- b\n-") == [plain_list(False, ["b"])]
    assert _blocks("-\n-\n\nx") == [_para(span("x"))]
    assert _blocks("```py extra words\nx = 1\n\n```\n\n    indented\n\n```\n   \n```") == [
        {"type": "code", "language": "py", "text": "x = 1"},
        {"type": "code", "language": None, "text": "indented"},
    ]
    assert _blocks("a\n\n---\n\n<div>raw</div>\n\nb") == [_para(span("a")), _para(span("b"))]


# ---------------------------------------------------------------- rendering


def test_html_rendering_of_every_block():
    blocks = [
        _para(span("Hi "), span("there", ["strong"]), span(" & "), span("<you>", ["em", "code"]), span("\n"),
              span("ok", ["l0", "em"]), defs=[{"key": "l0", "type": "link", "href": "https://a.org/?a=1&b=2"}]),
        _para(span("T"), span("2", ["em"]), kind="heading", level=4),
        {"type": "quote", "blocks": [paragraph("q1"), paragraph("q2")]},
        {"type": "code", "language": "py", "text": "a < b\nc"},
        {**image_block("m.png?a=1&b=2", 'say "x"'), "width": 300, "height": 200.0},
        image_block("n.png", ""),
        plain_list(False, ["u1", "u2"]),
        {**plain_list(True, ["o1"]), "start": 4},
        {"type": "list", "ordered": True, "items": ["i1", "i2"]},  # items only, as older captures carry
        {"type": "list", "ordered": False, "items": ["x"], "entries": [{"blocks": [paragraph("p1"), paragraph("p2")]}]},
        {"type": "paragraph", "text": "bare <text>"},  # a paragraph with no spans
        {"type": "mystery", "text": "never shown"},
    ]  # fmt: skip
    assert blocks_to_html(blocks) == "\n".join([
        f'<p>Hi <strong>there</strong> &amp; <em><code>&lt;you&gt;</code></em><br><a href="https://a.org/?a=1&amp;b=2"{REL}><em>ok</em></a></p>',
        "<h4>T<em>2</em></h4>",
        "<blockquote><p>q1</p><p>q2</p></blockquote>",
        "<pre><code>a &lt; b\nc</code></pre>",
        '<p><img src="m.png?a=1&amp;b=2" width="300" height="200" alt="say &quot;x&quot;" loading="lazy" '
        'decoding="async"></p>',
        '<p><img src="n.png" alt="" loading="lazy" decoding="async"></p>',
        "<ul><li>u1</li><li>u2</li></ul>",
        '<ol start="4"><li>o1</li></ol>',
        "<ol><li>i1</li><li>i2</li></ol>",
        "<ul><li><p>p1</p><p>p2</p></li></ul>",
        "<p>bare &lt;text&gt;</p>",
        "",
    ])  # fmt: skip


def test_text_rendering_of_every_block():
    blocks = [
        paragraph("first"),
        {"type": "quote", "blocks": [paragraph("q1"), paragraph("q2")]},
        {**plain_list(True, ["o1", "o2"]), "start": 9},
        plain_list(False, ["u1"]),
        {"type": "list", "ordered": True, "items": ["i1", "i2"]},
        {
            "type": "list",
            "ordered": False,
            "items": ["a b"],
            "entries": [{"blocks": [paragraph("a"), paragraph("b"), {**plain_list(True, ["n1", "n2"]), "start": 2}]}],
        },
        {"type": "list", "ordered": False, "items": [], "entries": [{"blocks": []}]},
        image_block("m.png", "the alt"),
        image_block("m.png", ""),
        {"type": "code", "language": None, "text": "  code"},
        _para(span("h"), kind="heading", level=2),
    ]
    assert blocks_to_text(blocks) == "\n\n".join(
        [
            "first",
            "q1\n\nq2",
            "9) o1\n10) o2",
            "• u1",
            "1) i1\n2) i2",
            "• a\n  b\n  2) n1\n  3) n2",
            "• ",
            "the alt",
            "  code",
            "h",
        ]
    )


def test_nested_lists_indent_two_spaces_a_level_in_text():
    _html, blocks = markdown_to_blocks("- a\n  - b\n    1. c\n- d")
    assert blocks_to_text(blocks) == "• a\n  • b\n    1) c\n• d"
    # a quote inside a list item is indented with the item's other blocks
    assert blocks_to_text(_blocks("- a\n\n  > q1\n  >\n  > q2\n- b")) == "• a\n  q1\n\n  q2\n• b"
    assert _html == "<ul><li>a<ul><li>b<ol><li>c</li></ol></li></ul></li><li>d</li></ul>"


def test_markdown_html_is_the_blocks_rendered_and_sanitised():
    body_html, blocks = markdown_to_blocks("# T\n\n[x](https://a.org) <i>raw</i>")
    assert blocks == [
        _para(span("T"), kind="heading", level=1),
        _para(span("x", ["l0"]), span(" raw"), defs=[{"key": "l0", "type": "link", "href": "https://a.org"}]),
    ]
    assert body_html == f'<h1>T</h1>\n<p><a href="https://a.org"{REL}>x</a> raw</p>'


# ---------------------------------------------------------------- properties of the block model


def _text_blocks(blocks):
    return [b for b in _walk(blocks) if "children" in b]


@FAST
@given(_document)
@example("a *b* c\n\n- x  \n  y")
@example("- a\n\n  ```\n  x\n  ```")  # an entry's code is part of its text
def test_every_text_block_is_its_spans_trimmed_and_merged(source):
    _html, blocks = markdown_to_blocks(source)
    for block in _text_blocks(blocks):
        children = block["children"]
        assert children, block  # no empty block
        assert block["text"] == "".join(c["text"] for c in children)
        assert block["text"] == block["text"].strip() and all(c["text"] for c in children)
        assert all(a["marks"] != b["marks"] for a, b in zip(children, children[1:], strict=False))
        keys = [d["key"] for d in block["markDefs"]]
        used = {m for c in children for m in c["marks"]}
        assert set(keys) == used - {"strong", "em", "code"}  # every definition used, every link mark defined
        assert keys == [f"l{n}" for n in sorted(int(k[1:]) for k in keys)]
        assert all(not re.match(r"[a-z][a-z0-9+.-]*:", d["href"], re.I) or
                   d["href"].split(":")[0].lower() in {"http", "https", "mailto"} for d in block["markDefs"])  # fmt: skip
    for block in _walk(blocks):
        if block["type"] == "list":
            assert block["items"] == [
                # an entry's own text blocks (paragraphs, headings, code), not its nested lists
                " ".join(b["text"] for b in e["blocks"] if b["type"] in ("paragraph", "heading", "code"))
                for e in block["entries"]
            ]


@FAST
@given(
    st.lists(
        st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=4), min_size=1, max_size=3).map(" ".join),
        min_size=1,
        max_size=4,
    ),  # fmt: skip
    st.integers(0, 12),
    st.booleans(),
)
@example(["a", "b c"], 0, True)  # CommonMark lists may start at 0
def test_list_text_numbers_from_its_start(words, start, ordered):
    marker = f"{start}." if ordered else "-"
    source = "\n".join(f"{marker if i == 0 else ('1.' if ordered else '-')} {w}" for i, w in enumerate(words))
    body_html, blocks = markdown_to_blocks(source)
    bullets = [f"{start + i})" if ordered else "•" for i in range(len(words))]
    assert blocks_to_text(blocks) == "\n".join(f"{b} {w}" for b, w in zip(bullets, words, strict=True))
    tag = "ol" if ordered else "ul"
    attr = f' start="{start}"' if ordered and start != 1 else ""
    assert body_html == f"<{tag}{attr}>" + "".join(f"<li>{w}</li>" for w in words) + f"</{tag}>"


@FAST
@given(st.lists(st.text(alphabet="abc <>&\"'\n", min_size=1, max_size=10), min_size=1, max_size=4))
def test_capture_paragraphs_render_escaped_and_separated(texts):
    blocks = [paragraph(t) for t in texts]
    shown = [t for t in texts if t]
    assert blocks_to_text(blocks) == "\n\n".join(shown)
    expected = [
        "<p>" + t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>") + "</p>"
        for t in texts
    ]
    assert blocks_to_html(blocks) == "\n".join(expected)


def test_unicode_text_survives_the_model_unchanged():
    text = unicodedata.normalize("NFD", "Ўсё — «і» ёсць")
    assert _blocks(text) == [_para(span(text))]
    assert blocks_to_text(_blocks(text)) == text


# ---------------------------------------------------------------- tables, exactly


def _cell(*children, defs=()):
    return _para(*children, defs=defs, kind="cell")


TABLE_MD = "| L | C | R | N |\n|:--|:-:|--:|---|\n| *a* | [b](/x) | `c` | d |\n| e | [f](/y) |"


def test_a_gfm_table_is_rows_of_cells_with_each_columns_alignment():
    # the head row flagged, a cell a text block like a paragraph (its links numbered in the cell), a short row
    # padded with empty cells (GFM), the alignment of each column from its delimiter (null: none)
    assert _blocks(TABLE_MD) == [
        {
            "type": "table",
            "align": ["left", "center", "right", None],
            "rows": [
                {"header": True, "cells": [_cell(span("L")), _cell(span("C")), _cell(span("R")), _cell(span("N"))]},
                {
                    "header": False,
                    "cells": [
                        _cell(span("a", ["em"])),
                        _cell(span("b", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "/x"}]),
                        _cell(span("c", ["code"])),
                        _cell(span("d")),
                    ],
                },
                {
                    "header": False,
                    "cells": [
                        _cell(span("e")),
                        _cell(span("f", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "/y"}]),
                        _cell(),
                        _cell(),
                    ],
                },
            ],
        }
    ]
    assert _cell() == {"type": "cell", "text": "", "children": [], "markDefs": []}


def test_a_table_renders_as_html_with_only_its_alignment_and_as_tab_separated_text():
    body_html, blocks = markdown_to_blocks(TABLE_MD)
    assert body_html == (
        '<table><thead><tr><th align="left">L</th><th align="center">C</th><th align="right">R</th><th>N</th></tr>'
        '</thead><tbody><tr><td align="left"><em>a</em></td>'
        f'<td align="center"><a href="/x"{REL}>b</a></td><td align="right"><code>c</code></td><td>d</td></tr>'
        f'<tr><td align="left">e</td><td align="center"><a href="/y"{REL}>f</a></td><td align="right"></td><td></td>'
        "</tr></tbody></table>"
    )
    assert blocks_to_text(blocks) == "L\tC\tR\tN\na\tb\tc\td\ne\tf\t\t"
    # in a list item a table's rows are indented with the item's other blocks, two spaces a level
    nested = _blocks("- a\n\n  | x | y |\n  |---|---|\n  | 1 | 2 |\n- b")
    assert blocks_to_text(nested) == "• a\n  x\ty\n  1\t2\n• b"
    assert blocks_to_html(nested) == (
        "<ul><li>a<table><thead><tr><th>x</th><th>y</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr>"
        "</tbody></table></li><li>b</li></ul>"
    )  # one paragraph an item: tight, with no <p>


def test_table_blocks_render_every_row_in_its_part_and_only_known_alignments():
    def row(header, *texts):
        return {"header": header, "cells": [_cell(span(t)) for t in texts]}

    # header rows all go in thead; alignment only as one of the three words (never another value or case),
    # a column past the end of `align` has none
    head_only = {"type": "table", "align": ["right", "LEFT"], "rows": [row(True, "a", "b", "c"), row(True, "d", "e")]}
    body_only = {"type": "table", "align": ["justify", None], "rows": [row(False, "1", "2"), row(False, "3", "4")]}
    assert blocks_to_html([head_only, body_only]) == "\n".join(
        [
            '<table><thead><tr><th align="right">a</th><th>b</th><th>c</th></tr><tr><th align="right">d</th>'
            "<th>e</th></tr></thead></table>",
            "<table><tbody><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></tbody></table>",
        ]
    )
    assert blocks_to_text([head_only, body_only]) == "a\tb\tc\nd\te\n\n1\t2\n3\t4"


# ---------------------------------------------------------------- the rest of the model, exactly


def test_a_span_and_a_block_without_link_definitions():
    assert span("x") == {"type": "span", "text": "x", "marks": []}
    assert span("x", ["em"]) == {"type": "span", "text": "x", "marks": ["em"]}
    # Portable Text makes `markDefs` optional: a block of spans without it renders its decorators
    bare = {"type": "paragraph", "text": "a b", "children": [span("a ", ["em"]), span("b", ["strong"])]}
    heading = {"type": "heading", "level": 2, "text": "h", "children": [span("h", ["code"])]}
    assert blocks_to_html([bare, heading]) == "<p><em>a </em><strong>b</strong></p>\n<h2><code>h</code></h2>"


def test_an_autolink_inside_a_link_is_a_second_link_mark():
    # markdown-it reads an autolink inside link text as a link of its own: keys count on inside the outer link
    assert _blocks("[a <http://x.org>](/d)") == [
        _para(
            span("a ", ["l0"]),
            span("http://x.org", ["l0", "l1"]),
            defs=[{"key": "l0", "type": "link", "href": "/d"}, {"key": "l1", "type": "link", "href": "http://x.org"}],
        )
    ]
    # inside a link of an unsafe scheme (dropped) the autolink is the block's first link
    assert _blocks("[a <http://x.org>](<ftp://d>)") == [
        _para(span("a "), span("http://x.org", ["l0"]), defs=[{"key": "l0", "type": "link", "href": "http://x.org"}])
    ]
    # an image inside a link of an unsafe scheme is its alt text, as inside any link
    assert _blocks("[![i](p.png)](<ftp://x>)") == [_para(span("i"))]


def test_an_image_block_notes_the_line_its_paragraph_starts_on():
    # `_line`: the 0-based line of the body where the image's paragraph starts, nested images too (documents.py
    # takes it off and turns it into the file line of its `path:line: reason`)
    _html, blocks = markdown_to_blocks("a\n\nb ![i](p.png)\n\n> ![j](q.png)\n\n- x\n\n  c\n  ![k](r.png)")
    assert [b["_line"] for b in image_blocks(blocks)] == [2, 4, 8]
    assert [b["src"] for b in image_blocks(blocks)] == ["p.png", "q.png", "r.png"]
    assert "_line" not in blocks[0] and "_line" not in blocks[1]


def test_code_keeps_its_last_line_verbatim_but_the_final_newlines():
    assert _blocks("```\nx = X\n```\n\n```\ny  \n\n\n```") == [
        {"type": "code", "language": None, "text": "x = X"},
        {"type": "code", "language": None, "text": "y  "},
    ]


def test_an_image_with_renditions_renders_its_webp_srcset_sizes_and_dimensions():
    block = {
        **image_block("/media/h-640.png", "Chart"),
        "width": 640,
        "height": 360,
        "renditions": [
            {"url": "/media/h-320.webp", "width": 320, "height": 180, "type": "image/webp"},
            {"url": "/media/h-320.png", "width": 320, "height": 180, "type": "image/png"},
            {"url": "/media/h-640.webp", "width": 640, "height": 360, "type": "image/webp"},
            {"url": "/media/h-640.png", "width": 640, "height": 360, "type": "image/png"},
        ],
    }
    assert blocks_to_html([block]) == (
        '<p><img src="/media/h-640.png" srcset="/media/h-320.webp 320w, /media/h-640.webp 640w" '
        'sizes="(min-width: 42rem) 42rem, 100vw" width="640" height="360" alt="Chart" loading="lazy" '
        'decoding="async"></p>'
    )


# ---------------------------------------------------------------- media URLs as served

BASE = "https://api.example"
RENDITIONS = [
    {"url": "/media/h-320.webp", "width": 320, "height": 180, "type": "image/webp"},
    {"url": "/media/h-320.png", "width": 320, "height": 180, "type": "image/png"},
]
SERVED_RENDITIONS = [
    {"url": f"{BASE}/media/h-320.webp", "width": 320, "height": 180, "type": "image/webp"},
    {"url": f"{BASE}/media/h-320.png", "width": 320, "height": 180, "type": "image/png"},
]


def _media(name: str, url: str = "/media/h-320.png") -> dict:
    """An image block of the archive as stored: its URLs relative to the API root."""
    return {**image_block(url, name), "width": 320, "height": 180, "renditions": RENDITIONS}


def _served(name: str) -> dict:
    return {**image_block(f"{BASE}/media/h-320.png", name), "width": 320, "height": 180,
            "renditions": SERVED_RENDITIONS}  # fmt: skip


def test_image_blocks_yields_every_image_nested_ones_included_in_reading_order():
    a, b, c, d, e = (_media(n) for n in "abcde")
    blocks = [
        paragraph("p"),
        a,
        {"type": "quote", "blocks": [paragraph("q"), b]},
        {"type": "list", "ordered": False, "items": ["x", ""],
         "entries": [{"blocks": [paragraph("x"), c]}, {"blocks": [plain_list(True, ["y"]) | {"entries": [
             {"blocks": [d]}]}]}]},
        {"type": "list", "ordered": True, "items": ["i1"]},  # items only, as older captures carry
        e,
    ]  # fmt: skip
    assert [i["alt"] for i in image_blocks(blocks)] == ["a", "b", "c", "d", "e"]
    assert all(i is j for i, j in zip(image_blocks(blocks), (a, b, c, d, e), strict=True))
    assert list(image_blocks([paragraph("p"), plain_list(False, ["x"])])) == []


def test_image_with_base_makes_its_media_urls_absolute():
    lead = {"url": "/media/h-320.png", "width": 320, "height": 180, "alt": "A", "renditions": RENDITIONS}
    assert image_with_base(lead, BASE) == {**lead, "url": f"{BASE}/media/h-320.png", "renditions": SERVED_RENDITIONS}
    assert image_with_base(_media("i"), BASE) == _served("i")  # an image block's src too
    # an image elsewhere, or one the Markdown names by a path the loader did not check, keeps its URL
    for url in ("https://cdn.example/media/x.png", "../media/map.png", "media/x.png"):
        assert image_with_base(image_block(url, "x"), BASE) == image_block(url, "x")
    # every served image has its renditions (the IMAGE schema requires them), none when it has none
    assert image_with_base({"url": "/media/h.png", "alt": "A"}, BASE) == {
        "url": f"{BASE}/media/h.png", "alt": "A", "renditions": []}  # fmt: skip
    assert lead["url"] == "/media/h-320.png" and lead["renditions"] == RENDITIONS  # the stored image is untouched


def test_blocks_with_base_rewrites_every_image_and_returns_other_blocks_as_they_are():
    para, plain, older = paragraph("p"), plain_list(False, ["x"]), {"type": "list", "ordered": True, "items": ["i"]}
    listed = {"type": "list", "ordered": False, "items": ["x"], "entries": [{"blocks": [paragraph("x"), _media("c")]}]}
    blocks = [para, _media("a"), {"type": "quote", "blocks": [paragraph("q"), _media("b")]}, listed, plain, older,
              image_block("https://cdn.example/x.png", "e")]  # fmt: skip
    served = blocks_with_base(blocks, BASE)
    assert served == [
        para,
        _served("a"),
        {"type": "quote", "blocks": [paragraph("q"), _served("b")]},
        {**listed, "entries": [{"blocks": [paragraph("x"), _served("c")]}]},
        plain,
        older,
        image_block("https://cdn.example/x.png", "e"),
    ]
    assert served[0] is para and served[4] is plain and served[5] is older
    assert blocks[1] == _media("a") and listed["entries"][0]["blocks"][1] == _media("c")  # stored blocks untouched
    assert blocks_with_base([], BASE) == []


def test_html_with_base_makes_the_media_urls_of_images_absolute():
    markup = blocks_to_html(
        [_media("a"), paragraph("see /media/h-320.png"), image_block("https://cdn.example/media/x.png", "")]
    )
    markup += f'\n<p><a href="/media/h-320.png"{REL}>file</a></p>'
    assert html_with_base(markup, BASE) == "\n".join(
        [
            f'<p><img src="{BASE}/media/h-320.png" srcset="{BASE}/media/h-320.webp 320w" '
            'sizes="(min-width: 42rem) 42rem, 100vw" width="320" height="180" alt="a" loading="lazy" '
            'decoding="async"></p>',
            "<p>see /media/h-320.png</p>",  # text and links are not images
            '<p><img src="https://cdn.example/media/x.png" alt="" loading="lazy" decoding="async"></p>',
            f'<p><a href="/media/h-320.png"{REL}>file</a></p>',
        ]
    )
    two = '<img src="/media/a-640.png" srcset="/media/a-320.webp 320w, /media/a-640.webp 640w" alt="">'
    assert html_with_base(two, BASE) == (
        f'<img src="{BASE}/media/a-640.png" srcset="{BASE}/media/a-320.webp 320w, {BASE}/media/a-640.webp 640w" alt="">'
    )
    assert html_with_base("<p>no image</p>", BASE) == "<p>no image</p>"
