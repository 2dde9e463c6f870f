"""The trend timeline: per issue and section, public stories per trend direction and a net index, ready to chart."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint

from api.http import cached_endpoint
from api.resources.collection import listing, requested_page
from api.store import queries
from schemas.args import TimelineArgs
from schemas.output import TimelineSchema

bp = Blueprint("timeline", __name__)


@bp.get("/v1/trends/timeline")
@cached_endpoint(TimelineArgs(), TimelineSchema)
def trend_timeline(session, ctx):
    """Per (issue, section) with public stories: counts per direction, total, net index and direction.

    A story counts once whatever its languages; `lang` (like Accept-Language) picks the labels only. A page charts
    `limit` issue weeks (the latest 52 by default, at most 260), oldest first; `links.next` leads to earlier weeks.
    """
    args, now = ctx.args, ctx.now
    filters = {k: args[k] for k in ("section", "from_", "to") if args.get(k) is not None}
    page = requested_page(
        session,
        queries.timeline_issues(now, filters),
        queries.ISSUE_ORDERS["newest"],
        ctx,
        filters={k: ",".join(v) if isinstance(v, list) else str(v) for k, v in filters.items()},
    )
    issues = {i.start: i for i in page.items}
    cells = queries.trend_timeline(session, now, {**filters, "issue": list(issues)}) if issues else []
    starts = sorted({c["issue_start"] for c in cells})
    sections = {s.slug: s for s in queries.sections_by_slug(session, {c["section_slug"] for c in cells})}
    base = ctx.base
    for cell in cells:
        cell["issue"] = issues[cell["issue_start"]]
        cell["section"] = sections[cell["section_slug"]]
        query = {"issue": cell["issue_start"].isoformat(), "section": cell["section_slug"]}
        cell["articles_url"] = f"{base}/v1/articles?{urlencode(query)}"
    body, headers = listing(ctx, page, issues=[s.isoformat() for s in starts], sections=list(sections))
    body["data"] = cells
    return body, headers
