"""Text helpers shared by every archive format: slugs, language detection, body blocks, HTML sanitising."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator

import nh3
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Tags a body may carry once sanitised: structure and emphasis only, no script, style, iframe or handlers.
ALLOWED_TAGS = {
    *("p", "ul", "ol", "li", "em", "strong", "b", "i", "a", "blockquote", "br", "code", "pre", "img"),
    *("h1", "h2", "h3", "h4", "h5", "h6"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {
    "*": set(),  # no generic attributes (ammonia's default keeps `lang` and `title` on every tag): only these
    "a": {"href", "title"},
    "img": {"src", "srcset", "sizes", "alt", "title", "width", "height", "loading", "decoding"},
    "ol": {"start"},
}
#: Column alignment is the one table attribute kept (`align` on th/td), and only with these values (never `style`).
ALIGNMENTS = ("left", "center", "right")
_ATTRIBUTE_VALUES = {tag: {"align": set(ALIGNMENTS)} for tag in ("th", "td")}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

_TRANSLIT = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ґ": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "і": "i",
        "й": "i",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ў": "u",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
        "'": "",
        "’": "",
    }
)

# CommonMark plus GFM tables (markdown-it's `table` rule), which the archive's documents use.
_md = MarkdownIt("commonmark").enable("table")


def slugify(text: str, max_length: int = 120) -> str:
    """A URL slug: lower-case ASCII words joined by hyphens, Cyrillic transliterated."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LATIN = re.compile("[A-Za-z]")


def detect_language(text: str) -> str:
    """'ru' or 'be' when the text is mostly Cyrillic, 'en' otherwise; Belarusian by its own letters."""
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    if cyr <= lat:
        return "en"
    lower = text.casefold()
    be_marks = lower.count("ў") + lower.count("і")
    ru_marks = lower.count("и") + lower.count("щ") + lower.count("ъ")
    return "be" if be_marks > ru_marks else "ru"


#: cleaning passes before giving up on markup that keeps changing (none seen: real pages, and random misnesting
#: searched for it, settle within seven), so a hostile file cannot make the loader clean it once per tag
MAX_PASSES = 32


def sanitize_html(raw: str) -> str:
    """Sanitised HTML: only ALLOWED_TAGS, safe link schemes, no event handlers; idempotent.

    Removing an element can leave markup that an HTML parser re-reads differently (`<p><object></p>` becomes
    `<p><p></p></p>`, which parses as sibling paragraphs), so clean until the output is a fixed point. Each pass
    can settle one more level of misnested tags (tables in anchors in headings take six). Markup still changing
    after MAX_PASSES passes is reduced to its text, escaped: no tag at all, and a fixed point.
    """
    out = _clean(raw)
    for _ in range(MAX_PASSES):
        again = _clean(out)
        if again == out:
            return out
        out = again
    return nh3.clean(out, tags=set())


def _clean(raw: str) -> str:
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        tag_attribute_values=_ATTRIBUTE_VALUES,
        link_rel="noopener nofollow",
        clean_content_tags={"script", "style"},
    )


# ---------------------------------------------------------------- the block model
#
# Portable Text (portabletext.org), with `type` for its `_type` and `key` for its `_key`: a body is a list of
# blocks; text blocks hold `children` (spans: text plus `marks`) and `markDefs` (link annotations a span's
# mark names by key). Every text block also carries `text`, the plain text of its spans. HTML and plain text
# are rendered from the blocks, never from the Markdown, so the three formats cannot disagree.

DECORATORS = ("strong", "em", "code")
_TAG = {"strong": "strong", "em": "em", "code": "code"}


def _safe_url(url: str) -> bool:
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url.strip())
    return scheme is None or scheme.group(1).lower() in ALLOWED_SCHEMES


def span(text: str, marks: list[str] | None = None) -> dict:
    return {"type": "span", "text": text, "marks": list(marks or [])}


def text_block(kind: str, children: list[dict], mark_defs: list[dict] | None = None, **extra) -> dict:
    block = {"type": kind, **extra, "text": "".join(c["text"] for c in children)}
    block["children"] = children
    block["markDefs"] = list(mark_defs or [])
    return block


def paragraph(text: str) -> dict:
    """A paragraph of plain text (capture-derived bodies)."""
    return text_block("paragraph", [span(text)])


def list_block(ordered: bool, items: list[list[dict]]) -> dict:
    """A list; each item is a list of blocks (text blocks and nested lists). `items` is their plain text."""
    return {
        "type": "list",
        "ordered": ordered,
        "items": [_item_text(item) for item in items],
        "entries": [{"blocks": item} for item in items],
    }


def plain_list(ordered: bool, items: list[str]) -> dict:
    return list_block(ordered, [[paragraph(t)] for t in items])


def _item_text(blocks: list[dict]) -> str:
    return " ".join(b["text"] for b in blocks if "text" in b and b["type"] != "list")


class _Inline:
    """Spans and link definitions of one inline run, images split out as their own blocks."""

    def __init__(self) -> None:
        self.parts: list[tuple[list[dict], list[dict]] | dict] = []
        self.children: list[dict] = []
        self.defs: list[dict] = []
        self.hidden = 0  # inside raw <script> or <style>, whose content is never shown

    def add(self, text: str, marks: list[str]) -> None:
        if not text or self.hidden:
            return
        if self.children and self.children[-1]["marks"] == marks:
            self.children[-1]["text"] += text
        else:
            self.children.append(span(text, marks))

    def walk(self, node, marks: list[str], counter: list[int], top: bool) -> None:
        for child in node.children:
            kind = child.type
            if kind == "text":
                self.add(child.content, marks)
            elif kind == "code_inline":
                self.add(child.content, [*marks, "code"])
            elif kind == "softbreak":
                self.add(" ", marks)
            elif kind == "hardbreak":
                self.add("\n", marks)
            elif kind in ("strong", "em"):
                self.walk(child, [*marks, kind], counter, top)
            elif kind == "link":
                href = str(child.attrs.get("href", ""))
                if _safe_url(href):
                    key = f"l{counter[0]}"
                    counter[0] += 1
                    self.defs.append({"key": key, "type": "link", "href": href})
                    self.walk(child, [*marks, key], counter, False)
                else:
                    self.walk(child, marks, counter, False)
            elif kind == "image":
                src = str(child.attrs.get("src", ""))
                alt = "".join(c.content for c in child.children if c.type in ("text", "code_inline"))
                if top and _safe_url(src):
                    self.flush()
                    self.parts.append(image_block(src, alt, child.attrs.get("title")))
                else:
                    self.add(alt, marks)
            elif kind == "html_inline":
                # raw inline HTML is not part of the model: dropped from every format, script content too
                tag = re.match(r"<(/?)(script|style)\b", child.content, re.I)
                if tag:
                    self.hidden = max(0, self.hidden + (-1 if tag.group(1) else 1))

    def flush(self) -> None:
        while self.children and not self.children[0]["text"].strip():
            self.children.pop(0)
        if self.children:
            self.children[0]["text"] = self.children[0]["text"].lstrip()
            self.children[-1]["text"] = self.children[-1]["text"].rstrip()
            self.children = [c for c in self.children if c["text"]]
        if self.children:
            used = {m for c in self.children for m in c["marks"]}
            self.parts.append((self.children, [d for d in self.defs if d["key"] in used]))
        self.children, self.defs = [], []


def image_block(src: str, alt: str, title=None) -> dict:
    """An image as the Markdown names it; an image of the archive gains its size and renditions when the loader
    checks it (api/ingest/media.py: `url` and the `renditions` URLs are then relative to the API root)."""
    block = {"type": "image", "src": src, "alt": alt, "width": None, "height": None, "caption": None, "credit": None,
             "url": src, "renditions": []}  # fmt: skip
    if title:
        block["caption"] = str(title)
    return block


#: The `sizes` of every rendered image: the reader's column is at most 42rem wide (api/static/reader).
IMAGE_SIZES = "(min-width: 42rem) 42rem, 100vw"


def image_blocks(blocks: list[dict]) -> Iterator[dict]:
    """Every image block of a body, nested ones (in quotes and list entries) included, in reading order."""
    for block in blocks:
        if block["type"] == "image":
            yield block
        elif block["type"] == "quote":
            yield from image_blocks(block["blocks"])
        elif block["type"] == "list":
            for entry in block.get("entries", ()):
                yield from image_blocks(entry["blocks"])


def _absolute(url: str, base: str) -> str:
    return base + url if url.startswith("/media/") else url


def image_with_base(image: dict, base: str) -> dict:
    """An image block or lead image with its media URLs absolute (stored relative to the API root)."""
    out = {**image, "url": _absolute(image["url"], base)}
    if "src" in image:
        out["src"] = _absolute(image["src"], base)
    out["renditions"] = [{**r, "url": _absolute(r["url"], base)} for r in image.get("renditions", ())]
    return out


def blocks_with_base(blocks: list[dict], base: str) -> list[dict]:
    """Blocks as served: every image's media URLs absolute; blocks without images are returned as they are."""
    out = []
    for block in blocks:
        kind = block["type"]
        if kind == "image":
            block = image_with_base(block, base)
        elif kind == "quote":
            block = {**block, "blocks": blocks_with_base(block["blocks"], base)}
        elif kind == "list" and any(True for _ in image_blocks([block])):
            block = {**block, "entries": [{"blocks": blocks_with_base(e["blocks"], base)} for e in block["entries"]]}
        out.append(block)
    return out


# In sanitised HTML a `<` of text is always `&lt;`, and an attribute value holds no raw `"`: the media URLs of an
# <img>'s src and srcset are found without parsing.
_IMG = re.compile(r"<img\s[^>]*>")
_MEDIA_ATTR = re.compile(r'(\s(?:src|srcset)=")([^"]*)"')


def html_with_base(markup: str, base: str) -> str:
    """Sanitised HTML as served: the media URLs of its images absolute."""
    if "<img" not in markup:
        return markup

    def attrs(tag: re.Match) -> str:
        return _MEDIA_ATTR.sub(
            lambda m: m.group(1) + re.sub(r"(^|, )/media/", lambda u: f"{u.group(1)}{base}/media/", m.group(2)) + '"',
            tag.group(),
        )

    return _IMG.sub(attrs, markup)


def img_tag(image: dict) -> str:
    """The <img> of an image block or lead image: srcset, sizes, width and height (no layout shift), lazy."""
    attrs = f'src="{html.escape(image["url"])}"'
    if image.get("renditions"):
        srcset = ", ".join(f"{r['url']} {r['width']}w" for r in image["renditions"] if r["type"] == "image/webp")
        attrs += f' srcset="{html.escape(srcset)}" sizes="{IMAGE_SIZES}"'
    for dim in ("width", "height"):
        if image.get(dim):
            attrs += f' {dim}="{int(image[dim])}"'
    return f'<img {attrs} alt="{html.escape(image["alt"] or "")}" loading="lazy" decoding="async">'


def _inline_blocks(node, kind: str, **extra) -> list[dict]:
    run = _Inline()
    run.walk(node, [], [0], top=kind == "paragraph")
    run.flush()
    out = []
    for part in run.parts:
        if isinstance(part, dict):
            out.append(part)
        else:
            out.append(text_block(kind, part[0], part[1], **extra))
    return out


def _cell(node) -> dict:
    """One table cell: a text block of inline spans (an image in a cell stays its alt text, as in the HTML)."""
    run = _Inline()
    if node.children:
        run.walk(node.children[0], [], [0], top=False)
    run.flush()
    children, defs = run.parts[0] if run.parts else ([], [])
    return text_block("cell", children, defs)


def _alignment(node) -> str | None:
    found = re.search(r"text-align:\s*(left|center|right)", str(node.attrs.get("style", "")))
    return found and found.group(1)


def table_block(node) -> dict:
    """A GFM table: rows of cells (the head row flagged `header`) and each column's alignment (null: none)."""
    rows = []
    for part in node.children:  # thead, tbody
        for tr in part.children:
            rows.append({"header": part.type == "thead", "cells": [_cell(td) for td in tr.children]})
    first = node.children[0].children[0].children if node.children and node.children[0].children else []
    return {"type": "table", "align": [_alignment(th) for th in first], "rows": rows}


def _node_blocks(nodes) -> list[dict]:
    out: list[dict] = []
    for node in nodes:
        kind = node.type
        if kind == "paragraph":
            for block in _inline_blocks(node.children[0], "paragraph"):
                if block["type"] == "image":  # where it is written, for the loader's `path:line: reason`
                    block["_line"] = node.map[0] if node.map else 0
                out.append(block)
        elif kind == "heading":
            out.extend(_inline_blocks(node.children[0], "heading", level=int(node.tag[1])))
        elif kind == "blockquote":
            inner = _node_blocks(node.children)
            if inner:
                out.append({"type": "quote", "blocks": inner})
        elif kind in ("bullet_list", "ordered_list"):
            items = [_node_blocks(item.children) for item in node.children]
            items = [item for item in items if item]
            if items:
                block = list_block(kind == "ordered_list", items)
                start = int(node.attrs.get("start", 1)) if kind == "ordered_list" else 1
                if start != 1:
                    block["start"] = start
                out.append(block)
        elif kind in ("fence", "code_block"):
            text = node.content.rstrip("\n")
            if text.strip():
                out.append({"type": "code", "language": (node.info or "").split(" ")[0] or None, "text": text})
        elif kind == "table":
            out.append(table_block(node))
        # thematic breaks and raw HTML blocks are not part of the model
    return out


def _children_html(block: dict) -> str:
    defs = {d["key"]: d for d in block.get("markDefs", [])}
    out = []
    for child in block["children"]:
        piece = html.escape(child["text"], quote=False).replace("\n", "<br>")
        for mark in reversed(child["marks"]):
            if mark in _TAG:
                piece = f"<{_TAG[mark]}>{piece}</{_TAG[mark]}>"
            elif mark in defs:
                piece = f'<a href="{html.escape(defs[mark]["href"])}">{piece}</a>'
        out.append(piece)
    return "".join(out)


def _block_html(block: dict, *, tight: bool = False) -> str:
    kind = block["type"]
    if kind == "paragraph":
        inner = _children_html(block) if "children" in block else html.escape(block["text"], quote=False)
        return inner if tight else f"<p>{inner}</p>"
    if kind == "heading":
        return f"<h{block['level']}>{_children_html(block)}</h{block['level']}>"
    if kind == "quote":
        return "<blockquote>" + "".join(_block_html(b) for b in block["blocks"]) + "</blockquote>"
    if kind == "code":
        return f"<pre><code>{html.escape(block['text'], quote=False)}</code></pre>"
    if kind == "image":
        return f"<p>{img_tag(block)}</p>"
    if kind == "table":
        return _table_html(block)
    if kind == "list":
        tag = "ol" if block.get("ordered") else "ul"
        start = f' start="{block["start"]}"' if block.get("start", 1) != 1 else ""  # an ordered list may start at 0
        entries = block.get("entries") or [{"blocks": [paragraph(t)]} for t in block["items"]]
        items = []
        for entry in entries:
            inner = entry["blocks"]
            lone = len([b for b in inner if b["type"] == "paragraph"]) <= 1
            items.append("<li>" + "".join(_block_html(b, tight=lone) for b in inner) + "</li>")
        return f"<{tag}{start}>" + "".join(items) + f"</{tag}>"
    return ""


def _table_html(block: dict) -> str:
    align = block["align"]
    head = [r for r in block["rows"] if r["header"]]
    body = [r for r in block["rows"] if not r["header"]]

    def row(r: dict) -> str:
        tag = "th" if r["header"] else "td"
        cells = []
        for i, cell in enumerate(r["cells"]):
            way = align[i] if i < len(align) else None
            attr = f' align="{way}"' if way in ALIGNMENTS else ""
            cells.append(f"<{tag}{attr}>{_children_html(cell)}</{tag}>")
        return "<tr>" + "".join(cells) + "</tr>"

    out = "<table>"
    if head:
        out += "<thead>" + "".join(map(row, head)) + "</thead>"
    if body:
        out += "<tbody>" + "".join(map(row, body)) + "</tbody>"
    return out + "</table>"


def blocks_to_html(blocks: list[dict]) -> str:
    """Render blocks as HTML, sanitised by the same policy as every body."""
    return sanitize_html("\n".join(_block_html(b) for b in blocks))


def _block_text(block: dict, depth: int = 0) -> str:
    kind = block["type"]
    if kind == "list":
        ordered = block.get("ordered")
        entries = block.get("entries") or [{"blocks": [paragraph(t)]} for t in block["items"]]
        lines = []
        for i, entry in enumerate(entries, block.get("start", 1)):
            bullet = f"{i})" if ordered else "•"
            first, *rest = [_block_text(b, depth + 1) for b in entry["blocks"]] or [""]
            lines.append("  " * depth + f"{bullet} {first.lstrip()}")
            lines.extend(rest)
        return "\n".join(lines)
    if kind == "quote":
        return "\n\n".join(_block_text(b, depth) for b in block["blocks"])
    if kind == "image":
        return block.get("alt") or ""
    if kind == "table":  # a row a line, cells tab-separated (the plain-text table every spreadsheet pastes)
        return "\n".join("  " * depth + "\t".join(c["text"] for c in r["cells"]) for r in block["rows"])
    return "  " * depth + block["text"]


def blocks_to_text(blocks: list[dict]) -> str:
    """Plain text of blocks: blocks separated by blank lines, list items bulleted, images by their alt text,
    table rows one a line with tab-separated cells."""
    return "\n\n".join(t for t in (_block_text(b) for b in blocks) if t)


def markdown_to_blocks(source: str) -> tuple[str, list[dict]]:
    """Parse Markdown into blocks and return (HTML rendered from those blocks, blocks)."""
    blocks = _node_blocks(SyntaxTreeNode(_md.parse(source)).children)
    return blocks_to_html(blocks), blocks


_WORD = re.compile(r"\w+(?:['’-]\w+)*")
#: Silent reading rates, words per minute: English as the house rule (200); Russian from the IReST
#: standardised texts (Trauzettel-Klosinski et al., 2012: 184), used for Belarusian too, which IReST lacks.
READING_WPM = {"en": 200, "ru": 184, "be": 184}


def word_count(text: str) -> int:
    """Words of a text: runs of letters and digits, a hyphen or apostrophe inside a word keeping it one."""
    return len(_WORD.findall(text))


def reading_minutes(words: int, lang: str) -> int:
    """Whole minutes to read `words` in `lang`, rounded up, at least 1."""
    return max(1, -(-words // READING_WPM.get(lang, 200)))
