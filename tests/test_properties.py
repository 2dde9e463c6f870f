"""Property-based tests (Hypothesis): the HTML sanitiser and the query-string parsers under arbitrary input.

The sanitiser's output is idempotent and carries no script, event handler, `javascript:` URL, iframe or style
over 1 000 generated documents plus a fixed list of OWASP XSS vectors. Every parser either returns a valid value
or raises marshmallow's ValidationError (the app's BadRequest for cursors) — never any other exception."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
from html.parser import HTMLParser

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from api.ingest.text import sanitize_html
from api.pagination import CURSOR, _cursor, decode_cursor, fingerprint
from api.problems import BadRequest
from api.signing import Signer
from api.store.queries import ARTICLE_ORDERS, ISSUE_ORDERS, SECTION_ORDER, TREND_ORDER
from schemas.fields import CsvList, Date, DateTime, IssueId, StrictInt, Text, parse_issue_id

PROPERTY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSER_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- HTML sanitiser -------------------------------------------------------------------------------------------

TAGS = [
    "p", "a", "script", "SCRIPT", "ScRiPt", "iframe", "style", "img", "svg", "math", "object", "embed", "form",
    "input", "button", "div", "span", "em", "strong", "li", "ul", "blockquote", "code", "br", "body", "html",
    "meta", "link", "base", "template", "noscript", "textarea", "title", "xmp", "video", "audio", "details",
    "frameset", "frame", "marquee", "table", "thead", "tbody", "tr", "th", "td", "h2", "select", "option", "isindex", "plaintext",
]  # fmt: skip
ATTRS = [
    "href", "src", "onerror", "onload", "ONCLICK", "onmouseover", "onfocus", "style", "STYLE", "title",
    "xlink:href", "formaction", "action", "data", "srcdoc", "background", "dynsrc", "lowsrc", "class", "id",
    "rel", "target", "autofocus", "poster", "on", "onx", "align", "valign", "colspan",
]  # fmt: skip
URLS = [
    "left", "center", "right", "justify",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java&#x09;script:alert(1)", "&#106;avascript:alert(1)", "javascript&colon;alert(1)", "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "https://example.org/", "http://a/b?c=d&e=f",
    "mailto:x@example.org", "//evil.example/", "/relative", "#frag", "\x01javascript:alert(1)",
    "jav&#x0A;ascript:alert(1)", "expression(alert(1))", "livescript:alert(1)",
]  # fmt: skip
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)

attribute = st.tuples(st.sampled_from(ATTRS), st.one_of(st.sampled_from(URLS), TEXT), st.sampled_from(['"', "'", ""]))


def _attr(a) -> str:
    name, value, quote = a
    return f" {name}={quote}{value}{quote}" if quote else f" {name}={value.replace(' ', '')}"


@st.composite
def html_fragment(draw, depth=0):
    """A soup of (possibly unbalanced, mis-cased, malformed) tags, attributes, URLs, comments and text."""
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 7))
        if kind in (0, 1, 2) and depth < 3:
            tag = draw(st.sampled_from(TAGS))
            attrs = "".join(_attr(a) for a in draw(st.lists(attribute, max_size=3)))
            inner = draw(html_fragment(depth=depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag.upper()} >", "/>"]))
            parts.append(f"<{tag}{attrs}>{inner}{close}")
        elif kind == 3:
            parts.append(draw(st.sampled_from(["<!--", "-->", "<!-- x -->", "<![CDATA[", "]]>", "<", ">", "&", "<!"])))
        elif kind == 4:
            parts.append(draw(st.sampled_from(URLS)))
        else:
            parts.append(draw(TEXT))
    return "".join(parts)


# A fixed list of classic vectors (OWASP XSS Filter Evasion Cheat Sheet and friends).
XSS_VECTORS = [
    "<script>alert('XSS')</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29">x</a>',
    "<a href=\"jav\tascript:alert('XSS');\">x</a>",
    "<a href=\"jav&#x09;ascript:alert('XSS');\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert('XSS');\">x</a>",
    "<a href=\" &#14;  javascript:alert('XSS');\">x</a>",
    '<SCRIPT/XSS SRC="http://xss.example/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=http://xss.example/xss.js?< B >",
    "<iframe src=http://xss.example/scriptlet.html <",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<svg/onload=alert('XSS')>",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.example/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<details open ontoggle=alert(1)>",
    "<a href=\"vbscript:msgbox('XSS')\">x</a>",
    '<p style="color:red" onclick="alert(1)">styled</p>',
    "<!--<script>alert(1)//--><script>alert(2)</script>",
]


class _Inspector(HTMLParser):
    """Collects every tag and attribute a browser-like tokenizer sees in the sanitised output."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.elements: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((name, value or "") for name, value in attrs)
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


DANGEROUS_TAGS = {"script", "iframe", "style", "object", "embed", "frame", "frameset", "svg", "math", "meta"}
# Images are part of the block model; an <img> may carry only these, with a src that passes the URL rule below.
IMG_ATTRIBUTES = {"src", "alt", "title", "width", "height"}
TABLE_ALIGN = {"left", "center", "right"}


def assert_safe(raw: str) -> str:
    clean = sanitize_html(raw)
    inspector = _Inspector()
    inspector.feed(clean)
    inspector.close()
    assert not DANGEROUS_TAGS & set(inspector.tags), (raw, clean)
    lowered = clean.lower()
    for needle in ("<script", "<iframe", "<style", "</script", "</style"):
        assert needle not in lowered, (raw, clean)
    for tag, attrs in inspector.elements:
        if tag == "img":
            assert {name for name, _ in attrs} <= IMG_ATTRIBUTES, (raw, clean)
        if tag in ("table", "thead", "tbody", "tr"):
            assert attrs == [], (raw, clean)
        if tag in ("th", "td"):  # tables keep column alignment only, as one of three words
            assert all(name == "align" and (value or "").lower() in TABLE_ALIGN for name, value in attrs), (raw, clean)
    for name, value in inspector.attrs:
        assert not name.startswith("on"), (raw, clean)
        assert name != "style", (raw, clean)
        if name in ("href", "src", "action", "formaction", "xlink:href"):
            # What a browser would resolve: entities decoded, control characters and whitespace dropped.
            url = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
            assert not url.startswith(("javascript:", "vbscript:", "data:")), (raw, clean)
    return clean


@PROPERTY
@given(html_fragment())
def test_sanitizer_generated_documents_are_safe(raw):
    clean = assert_safe(raw)
    assert_safe(clean)  # sanitising again stays safe too


@PROPERTY
@example("<p><object></p>")
@given(html_fragment())
def test_sanitizer_is_idempotent(raw):
    clean = sanitize_html(raw)
    assert sanitize_html(clean) == clean


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_sanitizer_owasp_vectors(vector):
    clean = assert_safe(vector)
    assert_safe(clean)


def test_sanitizer_keeps_safe_markup():
    kept = sanitize_html('<p>A <a href="https://example.org/x">link</a> and <em>emphasis</em></p>')
    assert '<a href="https://example.org/x"' in kept and "<em>emphasis</em>" in kept
    table = sanitize_html('<table><thead><tr><th align="right" style="x">a</th></tr></thead></table>')
    assert table == '<table><thead><tr><th align="right">a</th></tr></thead></table>'


# --- Query-string parsers ------------------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet="0123456789-+_ .eE:TtZz,W\x00\ufffd\u200f\u202e\u0661\uff11", max_size=40),
    st.integers().map(str),
    st.integers(min_value=2**60, max_value=2**80).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.tuples(st.integers(0, 9999), st.integers(0, 99)).map(lambda t: f"{t[0]:04d}-W{t[1]:02d}"),
    st.sampled_from(["", " ", ",", ",,", "1,", "0", "-0", "1e9", "NaN", "\x00", "9" * 5000, "1" * 10, "٣"]),
)

PARSERS = {
    "StrictInt": StrictInt(),
    "Text": Text(),
    "Date": Date(),
    "DateTime": DateTime(),
    "IssueId": IssueId(),
    "CsvList(StrictInt)": CsvList(StrictInt()),
    "CsvList(IssueId)": CsvList(IssueId()),
    "CsvList(String)": CsvList(fields.String()),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@PARSER_PROPERTY
@given(value=HOSTILE)
def test_parsers_return_a_value_or_a_validation_error(name, value):
    field = PARSERS[name]
    try:
        result = field.deserialize(value)
    except ValidationError:
        return
    if name == "StrictInt":
        assert isinstance(result, int) and 0 <= result < 10**9 and str(result) == value.lstrip("0").rjust(1, "0")
    elif name == "Text":
        assert result == value and "\x00" not in result
    elif name == "Date":
        assert isinstance(result, dt.date) and result.isoformat() == value
    elif name == "DateTime":
        assert isinstance(result, dt.datetime) and result.utcoffset() == dt.timedelta(0)
    elif name == "IssueId":
        assert isinstance(result, dt.date) and result.weekday() == 0
    else:
        assert isinstance(result, list) and 1 <= len(result) <= 20 and len(set(map(repr, result))) == len(result)


@PROPERTY
@given(value=HOSTILE)
def test_parse_issue_id_returns_a_date_or_none(value):
    day = parse_issue_id(value)
    assert day is None or isinstance(day, dt.date)


ORDERS = [*ARTICLE_ORDERS.values(), *ISSUE_ORDERS.values(), SECTION_ORDER, TREND_ORDER]
SIGNER = Signer(b"property-test-secret")
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["o", "f", "k", "d"]), children),
    max_leaves=12,
)


def _b64(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


CURSORS = st.one_of(
    st.text(),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/", max_size=80),
    st.binary(max_size=80).map(_b64),
    JSONISH.map(lambda v: _b64(json.dumps(v).encode())),
    st.builds(
        lambda o, k, d: {"o": o, "k": k, "d": d},
        st.sampled_from([o.name for o in ORDERS] + ["x"]),
        st.lists(JSONISH, max_size=3),
        st.sampled_from(["p", "n", None]),
    ).map(lambda p: _b64(json.dumps(p).encode())),
)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: o.name)
@PARSER_PROPERTY
@given(cursor=CURSORS, forged_fp=st.booleans())
def test_decode_cursor_returns_keys_or_bad_request(order, cursor, forged_fp):
    fp = fingerprint({"order": order.name})
    if forged_fp:
        # Re-encode structurally valid payloads with the right fingerprint, so the key decoding is exercised too.
        try:
            payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except Exception:  # noqa: BLE001 - the raw cursor is tried as it is below
            payload = None
        if isinstance(payload, dict):
            payload["f"] = fp
            payload["o"] = order.name
            # Signed with the server's own secret, as if it had leaked: the decoding must still hold.
            cursor = SIGNER.sign(CURSOR, orjson.dumps(payload))
    try:
        values, backwards = decode_cursor(cursor, order, fp, SIGNER)
    except BadRequest as error:
        assert error.status == 400 and "cursor" in error.invalid_params
        return
    assert isinstance(backwards, bool) and len(values) == len(order.keys)
    for key, value in zip(order.keys, values, strict=True):
        assert isinstance(value, key.type)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: o.name)
def test_decode_cursor_round_trips_issued_cursors(order):
    sample = {dt.datetime: dt.datetime(2022, 2, 14, 9, tzinfo=dt.UTC), dt.date: dt.date(2022, 2, 14), int: 3, str: "x"}

    class Item:
        pass

    item = Item()
    for key in order.keys:
        setattr(item, key.attr, sample[key.type])
    fp = fingerprint({"order": order.name})
    for backwards in (False, True):
        values, back = decode_cursor(_cursor(order, item, fp, backwards, SIGNER), order, fp, SIGNER)
        assert values == [sample[k.type] for k in order.keys] and back is backwards
    with pytest.raises(BadRequest):
        decode_cursor(
            _cursor(order, item, fp, False, SIGNER), order, fingerprint({"order": order.name, "q": "x"}), SIGNER
        )
    with pytest.raises(BadRequest):  # the same cursor under another secret
        decode_cursor(_cursor(order, item, fp, False, Signer(b"another")), order, fp, SIGNER)
