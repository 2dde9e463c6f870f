"""Parser of editorial documents: Markdown with YAML front matter, one article per file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from api.ingest.media import MediaError, is_local
from api.ingest.records import MAX_POSITION, SLUG_RE, ArchiveError, ArticleRecord, in_date_range, is_web_url
from api.ingest.text import blocks_to_html, image_blocks, markdown_to_blocks
from api.ingest.vocabulary import Vocabulary

REQUIRED = ("slug", "title", "lang", "lead", "published_at")
OPTIONAL = (
    "sample", "translation_key", "issue", "section", "trend", "position", "authors", "status",
    "embargo_until", "updated_at", "image", "image_alt", "image_caption", "image_credit", "canonical_url", "aliases",
)  # fmt: skip
LANGUAGES = ("en", "ru", "be")
STATUSES = ("published", "draft", "retracted")
# Front matter is a dozen short keys; a bound on its size bounds the work of parsing it.
MAX_FRONT_MATTER_BYTES = 64 * 1024
SCALAR_KEYS = ("slug", "title", "lang", "lead", "translation_key", "section", "trend", "status", "image", "image_alt",
               "image_caption", "image_credit", "canonical_url")  # fmt: skip
#: Resolves an image reference of the document to what the API says of it (api/ingest/media.py, `described`
#: without the alt text), raising MediaError with the reason; the loader passes one bound to the file.
Resolver = Callable[[str], dict]


def _marked(construct, what: str):
    """A scalar constructor whose impossible values (`2022-02-30`, year 0, an int of 5000 digits) raise a YAML
    error at the value's line instead of a bare ValueError."""

    def checked(loader, node):
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else f"{node.value[:40]}…"
            raise ConstructorError(None, None, f"{shown!r} is not a valid {what} ({exc})", node.start_mark) from None

    return checked


def _strict(base: type) -> type:
    loader = type(f"Strict{base.__name__}", (base,), {})
    for tag, construct, what in (
        ("tag:yaml.org,2002:int", SafeConstructor.construct_yaml_int, "integer"),
        ("tag:yaml.org,2002:float", SafeConstructor.construct_yaml_float, "number"),
        ("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_timestamp, "date"),
    ):
        loader.add_constructor(tag, _marked(construct, what))
    return loader


_FAST_LOADER = _strict(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
_SLOW_LOADER = _strict(yaml.SafeLoader)


def _load_yaml(front: str):
    """Front matter through libyaml when PyYAML has it (several times faster on a large archive); an error is
    raised by the pure-Python loader, so that its message and line are the same either way."""
    try:
        return yaml.load(front, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.load(front, Loader=_SLOW_LOADER)  # noqa: S506 - a safe loader


def _key_line(front: str, key: str) -> int:
    """1-based line (in the file) of a front-matter key, for `path:line: reason` messages."""
    for n, line in enumerate(front.splitlines(), start=2):
        if line.startswith(f"{key}:"):
            return n
    return 1


def _datetime(value, path: str, line: int, key: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ArchiveError(path, line, f"{key} is not an RFC 3339 timestamp: {value!r}") from None
    else:
        raise ArchiveError(path, line, f"{key} is not an RFC 3339 timestamp: {value!r}")
    if parsed.tzinfo is None:
        raise ArchiveError(path, line, f"{key} has no time zone: {value!r}")
    if not in_date_range(parsed):  # checked before the shift to UTC, which overflows at the ends of the calendar
        raise ArchiveError(path, line, f"{key} is out of range: {parsed.isoformat()!r}")
    return parsed.astimezone(dt.UTC)


def _resolved(resolve: Resolver, src: str, alt: str, path: str, line: int) -> dict:
    try:
        return resolve(src) | {"alt": alt}
    except MediaError as exc:
        raise ArchiveError(path, line, str(exc)) from None


def _src_line(lines: list[str], start: int, src: str) -> int:
    """The 0-based body line of the paragraph starting at `start` that names `src` (else the paragraph's first)."""
    for n in range(start, len(lines)):
        if src in lines[n]:
            return n
        if not lines[n].strip():
            break
    return start


def parse_document(path: str, text: str, vocab: Vocabulary, media: Resolver | None = None) -> ArticleRecord:
    """Parse one editorial document into a record; raise ArchiveError naming the offending line.

    With `media`, every image the document names in the archive (lead image and inline) is resolved through it:
    its blocks and lead image then carry sizes and renditions. Without, they stay as the Markdown names them.
    """
    if not text.startswith("---\n"):
        raise ArchiveError(path, 1, "missing YAML front matter (the file must start with '---')")
    end = text.find("\n---\n", 3)
    if end < 0:
        raise ArchiveError(path, 1, "front matter is not closed by a '---' line")
    front, body = text[4:end], text[end + 5 :]
    if len(front) > MAX_FRONT_MATTER_BYTES:
        raise ArchiveError(path, 2, f"front matter is over {MAX_FRONT_MATTER_BYTES} characters (refused)")
    try:
        meta = _load_yaml(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ArchiveError(
            path, (mark.line + 2) if mark else 1, f"invalid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    except RecursionError:
        raise ArchiveError(path, 2, "front matter is nested too deep (refused)") from None
    if not isinstance(meta, dict):
        raise ArchiveError(path, 2, "front matter must be a mapping of keys to values")

    def line(key: str) -> int:
        return _key_line(front, key)

    for key in REQUIRED:
        if meta.get(key) in (None, ""):
            raise ArchiveError(path, 1, f"front matter lacks required key '{key}'")
    for key in meta:
        if key not in REQUIRED and key not in OPTIONAL:
            raise ArchiveError(path, line(str(key)), f"unknown front-matter key {str(key)[:80]!r}")
    for key in SCALAR_KEYS:
        if isinstance(meta.get(key), (list, dict, set)):
            raise ArchiveError(path, line(key), f"{key} must be a single value, not a list or mapping")
    slug = str(meta["slug"])
    if not SLUG_RE.match(slug) or len(slug) > 200:
        raise ArchiveError(path, line("slug"), f"slug must be lowercase ASCII words joined by hyphens: {slug[:80]!r}")
    lang = meta["lang"]
    if lang not in LANGUAGES:
        raise ArchiveError(path, line("lang"), f"lang must be one of {', '.join(LANGUAGES)}: {lang!r}")
    status = meta.get("status", "published")
    if status not in STATUSES:
        raise ArchiveError(path, line("status"), f"status must be one of {', '.join(STATUSES)}: {status!r}")

    section = trend = week = None
    if meta.get("section") is not None:
        section = vocab.section(str(meta["section"]))
        if section is None:
            raise ArchiveError(path, line("section"), f"unknown section {meta['section']!r}")
    if meta.get("trend") is not None:
        trend = vocab.trend(str(meta["trend"])) or (
            meta["trend"] if meta["trend"] in {t.slug for t in vocab.trends} else None
        )
        if trend is None:
            raise ArchiveError(path, line("trend"), f"unknown trend {meta['trend']!r}")
    if meta.get("issue") is not None:
        week = meta["issue"]
        if isinstance(week, str):
            try:
                week = dt.date.fromisoformat(week)
            except ValueError:
                raise ArchiveError(path, line("issue"), f"issue must be a date (YYYY-MM-DD): {week!r}") from None
        if not isinstance(week, dt.date) or isinstance(week, dt.datetime) or week.weekday() != 0:
            raise ArchiveError(path, line("issue"), f"issue must be the Monday that starts the week: {week!r}")
        if not in_date_range(week):
            raise ArchiveError(path, line("issue"), f"issue is out of range: {week.isoformat()}")
    position = meta.get("position")
    if position is not None and (
        not isinstance(position, int) or isinstance(position, bool) or not 1 <= position <= MAX_POSITION
    ):
        shown = position if not isinstance(position, int) or position < 10**12 else f"{str(position)[:12]}…"
        raise ArchiveError(path, line("position"), f"position must be an integer from 1 to {MAX_POSITION}: {shown!r}")
    authors = meta.get("authors") or []
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise ArchiveError(path, line("authors"), "authors must be a list of names")
    aliases = meta.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ArchiveError(path, line("aliases"), "aliases must be a list of slugs")
    for alias in aliases:
        if not SLUG_RE.match(alias) or len(alias) > 200:
            raise ArchiveError(
                path, line("aliases"), f"alias must be lowercase ASCII words joined by hyphens: {alias[:80]!r}"
            )

    canonical = meta.get("canonical_url")
    if canonical is not None and not is_web_url(str(canonical)):
        raise ArchiveError(
            path, line("canonical_url"), f"canonical_url must be an http(s) URL: {str(canonical)[:80]!r}"
        )
    published = _datetime(meta["published_at"], path, line("published_at"), "published_at")
    updated = (
        _datetime(meta["updated_at"], path, line("updated_at"), "updated_at") if meta.get("updated_at") else published
    )
    embargo = (
        _datetime(meta["embargo_until"], path, line("embargo_until"), "embargo_until")
        if meta.get("embargo_until")
        else None
    )
    body_html, blocks = markdown_to_blocks(body)
    if not blocks:
        raise ArchiveError(path, front.count("\n") + 3, "the document has no body")
    body_start, body_lines = front.count("\n") + 4, body.split("\n")  # the file line of the body's first line
    for block in image_blocks(blocks):
        at = block.pop("_line", 0)
        if media is not None and is_local(block["src"]):
            line_no = body_start + _src_line(body_lines, at, block["src"])
            block.update(_resolved(media, block["src"], block["alt"], path, line_no))
            block["src"] = block["url"]  # the archive's path means nothing to a client
            body_html = None
    if body_html is None:  # sizes and renditions changed the images: render again from the blocks
        body_html = blocks_to_html(blocks)
    image = None
    if meta.get("image") is not None:
        src, alt = str(meta["image"]), meta.get("image_alt")
        if not isinstance(alt, str) or not alt.strip():
            raise ArchiveError(path, line("image"), "a lead image needs its alt text (image_alt)")
        if not is_local(src):
            raise ArchiveError(path, line("image"), f"a lead image must be a file of the archive: {src[:80]!r}")
        if media is not None:
            image = _resolved(media, src, alt.strip(), path, line("image"))
    elif meta.get("image_alt") is not None:
        raise ArchiveError(path, line("image_alt"), "image_alt without an image")
    return ArticleRecord(
        path=path,
        line=line("title"),
        source="document",
        slug=slug,
        title=str(meta["title"]).strip(),
        lead=str(meta["lead"]).strip(),
        blocks=blocks,
        lang=lang,
        translation_key=meta.get("translation_key"),
        section=section,
        trend=trend,
        week_start=week,
        week_source="document" if week else None,
        published_at=published,
        updated_at=max(updated, published),
        authors=authors,
        image=image,
        image_caption=meta.get("image_caption"),
        image_credit=meta.get("image_credit"),
        status=status,
        embargo_until=embargo,
        position=position,
        canonical_url=meta.get("canonical_url"),
        aliases=list(aliases),
        sample=bool(meta.get("sample", False)),
        body_html=body_html,
    )
