"""The change feed: every article created, updated or removed since a token, oldest first.

A token is the position (visible_at, slug) of the last change handed out, with the build time of the
generation that handed it out. Changes are ordered by (visible_at, slug) and only changes whose visible_at
has passed are served, so an embargoed article enters the feed when its embargo ends, and no token ever
points past `now` (nothing about a hidden item can be read from it). A load records its changes at the time
it started, so a token that an older generation handed out during the load can point past them: the feed
then goes back to the first of them; an instance whose clock is behind the token's time hands the older build
time back, to go back again once what lies behind the token is visible to it. Filters (section, lang) apply
to the section/language each change row recorded, so tombstones of a section survive filtering.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint
from marshmallow import fields, validate

from api.http import cached_endpoint
from api.problems import BadRequest, Gone
from api.signing import Signer
from api.store import queries
from api.store.models import Article
from schemas.args import SLUG, BaseArgs
from schemas.fields import StrictInt, Text
from schemas.output import ChangeFeedSchema

bp = Blueprint("changes", __name__)


class ChangeArgs(BaseArgs):
    since = Text(validate=validate.Length(1, 512), metadata={"description": "Token from a previous page's `next`."})
    section = Text(validate=SLUG, metadata={"description": "Only changes of this section (tombstones included)."})
    limit = StrictInt(load_default=100, validate=validate.Range(1, 1000), metadata={"description": "Changes per page."})
    lang = fields.String(validate=validate.OneOf(("en", "ru", "be")), metadata={"description": "Only this language."})


TOKEN = "changes"  # the signing purpose of change tokens (api.signing)


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: str) -> dt.datetime:
    if not re.fullmatch(r"-?[0-9]{1,17}", micros):  # 17 digits: past year 9999 in µs
        raise ValueError(micros)
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))


def encode_token(signer: Signer, visible_at: dt.datetime, slug: str, built_at: dt.datetime) -> str:
    # (visible time, slug) of a change already served, and when the generation that served it was built (public:
    # /readyz says it); no sequence number, so nothing hints at hidden changes.
    return signer.sign(TOKEN, f"v4:{_micros(visible_at)}:{_micros(built_at)}:{slug}".encode())


def decode_token(signer: Signer, token: str) -> tuple[dt.datetime, str, dt.datetime | None]:
    """The position in a token this API signed and the build time of the generation that signed it (None in a token
    of the earlier form, which has none); anything else (edited, made up, out of range) is a 400."""
    raw = signer.unsign(TOKEN, token)
    try:
        if raw is None:
            raise ValueError("unsigned")
        version, rest = raw.decode().split(":", 1)
        if version == "v4":
            micros, built, slug = rest.split(":", 2)
            return _moment(micros), slug, _moment(built)
        if version == "v3":
            micros, slug = rest.split(":", 1)
            return _moment(micros), slug, None
        raise ValueError(version)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise BadRequest("Malformed change token.", {"since": "not a token from this API"}) from exc


def _in_view(article: Article, args: dict) -> bool:
    return args.get("section") in (None, article.section_slug) and args.get("lang") in (None, article.lang)


@bp.get("/v1/changes")
@cached_endpoint(ChangeArgs(), ChangeFeedSchema)
def changes(session, ctx):
    """Article upserts and tombstones since `since` (none: full initial sync), oldest first."""
    return feed_page(session, ctx)


changes.link_header = "Link-Next"  # the OpenAPI document's name for this Link header


def feed_page(session, ctx) -> tuple[dict, dict]:
    """One page of the feed for the request `ctx` (its arguments, clock, generation, signer): the body and the
    `Link` header. A plain function, apart from the endpoint wrapper, so that mutation testing reaches it."""
    args, now, signer = ctx.args, ctx.now, ctx.signer
    position, built_at, signed_by = None, ctx.generation.built_at, None
    if args.get("since"):
        at, slug, signed_by = decode_token(signer, args["since"])
        position = (at, slug)
        first = queries.first_change(session, now)
        if first is None or at < first - dt.timedelta(microseconds=1):
            raise Gone(
                "This change token is older than the retained change history (or from another archive). "
                "Resync: GET /v1/changes without `since`, replace your copy with the result, then continue from `next`."
            )
        if signed_by is not None and signed_by < built_at:
            # a token of an older generation: a load since may have recorded changes behind it (the load began
            # before an embargo ended, and the client synced after, before the swap); the feed goes back to the
            # first of them and serves on from there: a change may come twice, none is missed
            missed = queries.first_change_recorded_after(session, now, signed_by, at)
            if missed is not None:
                position = (missed, "")  # every change of that instant, the missed ones among them
    rows = queries.changes_after(session, now, position, args.get("section"), args.get("lang"), args["limit"] + 1)
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    slugs = [r.slug for r in rows if r.kind == "upsert"]
    current = {a.slug: a for a in queries.public_by_slug(session, now, slugs)}
    data = []
    for r in rows:
        article = current.get(r.slug) if r.kind == "upsert" else None
        if r.kind == "upsert" and article is None:
            continue  # superseded by a later removal (which follows in the feed)
        if article is not None and not _in_view(article, args):
            article = None  # it has left this section or language: for this view it is removed
        if article is not None:
            data.append({"type": "upsert", "at": r.visible_at, "article": article})
        else:
            data.append(
                {"type": "delete", "at": r.visible_at,
                 "tombstone": {"id": f"{ctx.base}/v1/articles/{r.slug}", "slug": r.slug,
                               "section": r.previous_section_slug or r.section_slug, "lang": r.previous_lang or r.lang,
                               "removed_at": r.visible_at}}
            )  # fmt: skip
    if rows:
        position = (rows[-1].visible_at, rows[-1].slug)
    elif position is not None and position[0] > now and signed_by is not None:
        # the token lies past this instance's clock (another instance's runs ahead): what a load since recorded
        # behind it may not be visible here yet, so the back-look above could not find it; the token keeps the
        # older build time (never a later one than the current), and the back-look runs again on the next request
        built_at = min(signed_by, built_at)
    token = encode_token(signer, *position, built_at) if position else None
    # the view and the page size go on (a client that asked for pages of ten gets pages of ten), so the link
    # always has a query
    query = "&".join(f"{k}={args[k]}" for k in ("section", "lang", "limit") if args.get(k))
    nxt = f"{ctx.base}/v1/changes?" + "&".join(p for p in (query, f"since={token}" if token else "") if p)
    body = {"data": data, "meta": {"has_more": more, "next": token}, "links": {"next": nxt}}
    return body, {"Link": f'<{nxt}>; rel="next"'}
