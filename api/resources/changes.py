"""The change feed: every article created, updated or removed since a token, oldest first.

A token is the position (visible_at, slug) of the last change handed out. Changes are ordered by
(visible_at, slug) and only changes whose visible_at has passed are served, so an embargoed article
enters the feed when its embargo ends, and no token ever points past `now` (nothing about a hidden
item can be read from it). Filters (section, lang) apply to the section/language each change row
recorded, so tombstones of a section survive filtering.
"""

from __future__ import annotations

import base64
import datetime as dt

from flask import Blueprint
from marshmallow import fields, validate
from sqlalchemy import and_, func, or_, select

from api.errors import BadRequest, Gone
from api.http import base_url, cached_endpoint
from api.store import queries, visibility
from api.store.models import Article, Change
from schemas.args import SLUG, BaseArgs
from schemas.compiled import dumper
from schemas.fields import StrictInt, Text
from schemas.output import ArticleSchema, ChangeFeedSchema

bp = Blueprint("changes", __name__)


class ChangeArgs(BaseArgs):
    since = Text(validate=validate.Length(1, 128), metadata={"description": "Token from a previous page's `next`."})
    section = Text(validate=SLUG, metadata={"description": "Only changes of this section (tombstones included)."})
    limit = StrictInt(load_default=100, validate=validate.Range(1, 1000), metadata={"description": "Changes per page."})
    lang = fields.String(validate=validate.OneOf(("en", "ru", "be")), metadata={"description": "Only this language."})


def encode_token(visible_at: dt.datetime, slug: str) -> str:
    # (visible time, slug) of a change already served: no sequence number, so nothing hints at hidden changes.
    raw = f"v2:{int(visible_at.timestamp() * 1_000_000)}:{slug}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, micros, slug = raw.split(":", 2)
        if version != "v2":
            raise ValueError(version)
        return dt.datetime.fromtimestamp(int(micros) / 1_000_000, dt.UTC), slug
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Malformed change token.", {"since": "not a token from this API"}) from exc


def _in_view(article: Article, args: dict) -> bool:
    return args.get("section") in (None, article.section_slug) and args.get("lang") in (None, article.lang)


@bp.get("/v1/changes")
@cached_endpoint(ChangeArgs(), ChangeFeedSchema)
def changes(session, args, now, lang):
    """Article upserts and tombstones since `since` (none: full initial sync), oldest first."""
    visible = visibility.has_become_visible(Change.visible_at, now)
    stmt = select(Change).where(visible)
    # A filtered view also takes the updates that moved an article out of it: they become its tombstones.
    if args.get("section"):
        stmt = stmt.where(or_(Change.section_slug == args["section"], Change.previous_section_slug == args["section"]))
    if args.get("lang"):
        stmt = stmt.where(or_(Change.lang == args["lang"], Change.previous_lang == args["lang"]))
    position = None
    if args.get("since"):
        position = decode_token(args["since"])
        first = session.scalar(select(func.min(Change.visible_at)).where(visible))
        if first is None or position[0] < first - dt.timedelta(microseconds=1):
            raise Gone(
                "This change token is older than the retained change history (or from another archive). "
                "Resync: GET /v1/changes without `since`, replace your copy with the result, then continue from `next`."
            )
        stmt = stmt.where(
            or_(Change.visible_at > position[0], and_(Change.visible_at == position[0], Change.slug > position[1]))
        )
    rows = list(session.scalars(stmt.order_by(Change.visible_at, Change.slug, Change.seq).limit(args["limit"] + 1)))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    slugs = [r.slug for r in rows if r.kind == "upsert"]
    current = (
        {a.slug: a for a in session.scalars(queries.public_articles(now).where(Article.slug.in_(slugs)))}
        if slugs
        else {}
    )
    data = []
    dump = dumper(ArticleSchema)
    for r in rows:
        article = current.get(r.slug) if r.kind == "upsert" else None
        if r.kind == "upsert" and article is None:
            continue  # superseded by a later removal (which follows in the feed)
        if article is not None and not _in_view(article, args):
            article = None  # it has left this section or language: for this view it is removed
        if article is not None:
            data.append({"type": "upsert", "at": r.visible_at.isoformat(), "article": dump(article)})
        else:
            data.append(
                {"type": "delete", "at": r.visible_at.isoformat(),
                 "tombstone": {"id": f"{base_url()}/v1/articles/{r.slug}", "slug": r.slug,
                               "section": r.previous_section_slug or r.section_slug, "lang": r.previous_lang or r.lang,
                               "removed_at": r.visible_at.isoformat()}}
            )  # fmt: skip
    if rows:
        position = (rows[-1].visible_at, rows[-1].slug)
    token = encode_token(*position) if position else None
    query = "&".join(f"{k}={args[k]}" for k in ("section", "lang") if args.get(k))
    nxt = f"{base_url()}/v1/changes?" + "&".join(p for p in (query, f"since={token}" if token else "") if p)
    body = {"data": data, "meta": {"has_more": more, "next": token}, "links": {"next": nxt}}
    return body, {"Link": f'<{nxt}>; rel="next"'}


changes.link_header = "Link-Next"  # the OpenAPI document's name for this Link header
