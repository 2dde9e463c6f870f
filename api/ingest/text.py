"""Text helpers shared by every archive format: slugs, language detection, body blocks, HTML sanitising."""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

# Tags a body may carry once sanitised: structure and emphasis only, no script, style, iframe or handlers.
ALLOWED_TAGS = {"p", "ul", "ol", "li", "em", "strong", "b", "i", "a", "blockquote", "h2", "h3", "h4", "br", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
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

_md = MarkdownIt("commonmark")


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


def sanitize_html(raw: str) -> str:
    """Sanitised HTML: only ALLOWED_TAGS, safe link schemes, no event handlers; idempotent.

    Removing an element can leave markup that an HTML parser re-reads differently (`<p><object></p>` becomes
    `<p><p></p></p>`, which parses as sibling paragraphs), so clean until the output is a fixed point.
    """
    out = _clean(raw)
    for _ in range(4):
        again = _clean(out)
        if again == out:
            return out
        out = again
    return out


def _clean(raw: str) -> str:
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener nofollow",
        clean_content_tags={"script", "style"},
    )


def blocks_to_html(blocks: list[dict]) -> str:
    """Render structured blocks (paragraphs and lists of plain text) as escaped HTML."""
    out = []
    for block in blocks:
        if block["type"] == "list":
            tag = "ol" if block.get("ordered") else "ul"
            items = "".join(f"<li>{html.escape(item, quote=False)}</li>" for item in block["items"])
            out.append(f"<{tag}>{items}</{tag}>")
        else:
            out.append(f"<p>{html.escape(block['text'], quote=False)}</p>")
    return "\n".join(out)


def blocks_to_text(blocks: list[dict]) -> str:
    """Plain text of structured blocks: paragraphs separated by blank lines, list items bulleted."""
    out = []
    for block in blocks:
        if block["type"] == "list":
            ordered = block.get("ordered")
            out.append("\n".join(f"{i}) {t}" if ordered else f"• {t}" for i, t in enumerate(block["items"], 1)))
        else:
            out.append(block["text"])
    return "\n\n".join(out)


def _inline_text(token) -> str:
    """Plain text of an inline markdown token (emphasis and links reduced to their text)."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def markdown_to_blocks(source: str) -> tuple[str, list[dict]]:
    """Render Markdown to (sanitised HTML, structured blocks) in one parse."""
    env: dict = {}
    tokens = _md.parse(source, env)
    blocks: list[dict] = []
    current_list: dict | None = None
    in_item = False
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            current_list = {"type": "list", "ordered": tok.type == "ordered_list_open", "items": []}
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            if current_list is not None:
                blocks.append(current_list)
            current_list = None
        elif tok.type == "list_item_open":
            in_item = True
        elif tok.type == "list_item_close":
            in_item = False
        elif tok.type == "inline":
            text = _inline_text(tok)
            if not text:
                continue
            if current_list is not None and in_item:
                current_list["items"].append(text)
            else:
                blocks.append({"type": "paragraph", "text": text})
    return sanitize_html(_md.renderer.render(tokens, _md.options, env)), blocks  # one parse serves both
