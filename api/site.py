"""The bulletin's name and the reader page's URLs, shared by the pages and the feeds.

The URLs are absolute, under the request's base URL (api.context.RequestContext.base), passed in: nothing here reads
the request.
"""

from __future__ import annotations

from urllib.parse import urlencode

#: The site's name as each edition prints it.
SITE_NAME = {"en": "Situation in Belarus", "ru": "Ситуация в Беларуси", "be": "Сітуацыя ў Беларусі"}


def site_name(lang: str) -> str:
    return SITE_NAME.get(lang, SITE_NAME["en"])


def reader_url(base: str, fragment: str = "") -> str:
    """The reader page (/) under `base`, at the hash route `fragment` (e.g. `/article/<slug>`): a page to read."""
    return f"{base}/" + (f"#{fragment}" if fragment else "")


def reader_article_url(base: str, slug: str) -> str:
    return reader_url(base, f"/article/{slug}")


def reader_list_url(base: str, filters: dict) -> str:
    """The reader's article list for section / trend / issue filters, else the reader's front page."""
    shown = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in sorted(filters.items())}
    shown = {k: v for k, v in shown.items() if k in ("section", "trend", "issue") and v}
    return reader_url(base, f"/articles?{urlencode(shown)}") if shown else reader_url(base)
