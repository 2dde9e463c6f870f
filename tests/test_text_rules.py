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
    detect_language,
    image_block,
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
                " ".join(b["text"] for b in e["blocks"] if b["type"] in ("paragraph", "heading"))
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
