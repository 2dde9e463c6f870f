"""Issues: the weekly list, one issue with its articles grouped by section, and the latest issue."""

from __future__ import annotations

import itertools

from flask import Blueprint

from api.http import cached_endpoint
from api.problems import NotFound
from api.resources.articles import article_page, pick
from api.resources.collection import collection
from api.resources.feeds import feed_links
from api.store import queries
from schemas.args import ArticleListArgs, IssueItemArgs, IssueListArgs
from schemas.compiled import dumper
from schemas.fields import parse_issue_id
from schemas.output import (
    ArticleListSchema,
    ArticleSummarySchema,
    IssueItemSchema,
    IssueListSchema,
    IssueRefSchema,
    IssueSummarySchema,
    SectionRefSchema,
)

bp = Blueprint("issues", __name__)


def issue_body(session, ctx, issue, names: list[str] | None = None) -> dict:
    """An issue with its articles as summaries, grouped by section in editorial order."""
    now, lang = ctx.now, ctx.args.get("lang")
    terms = queries.terms(session, ctx.generation.id)
    articles = queries.issue_articles(session, issue, now, terms, lang)
    queries.annotate_issues(session, [issue], now, lang)  # `lang` picks the articles listed and those counted
    data = dumper(IssueSummarySchema)(issue)
    summary, ref = dumper(ArticleSummarySchema), dumper(SectionRefSchema)
    data["sections"] = [
        {
            "section": ref(section) if section else None,
            "articles": [pick(summary(a), names) for a in group],
        }
        for section, group in itertools.groupby(articles, key=lambda a: a.section)
    ]
    prev, nxt = queries.neighbours(session, issue, now)
    data["previous"] = dumper(IssueRefSchema)(prev) if prev else None
    data["next"] = dumper(IssueRefSchema)(nxt) if nxt else None
    return {"data": data, "links": feed_links(ctx, issue=issue.start.isoformat())}


@bp.get("/v1/issues")
@cached_endpoint(IssueListArgs(), IssueListSchema)
def list_issues(session, ctx):
    """Public issues, newest first; `covers`, `from`, `to` and `year` filter them."""
    args, now = ctx.args, ctx.now
    filters = {k: args[k] for k in ("covers", "from_", "to", "year") if args.get(k) is not None}
    order = queries.ISSUE_ORDERS[args.get("sort") or "newest"]
    return collection(
        session,
        queries.public_issues(now, filters),
        order,
        ctx,
        IssueSummarySchema,
        filters={k: str(v) for k, v in filters.items()},
        annotate=lambda items: queries.annotate_issues(session, items, now, args.get("lang")),
    )


@bp.get("/v1/issues/latest")
@cached_endpoint(IssueItemArgs(), IssueItemSchema)
def latest_issue(session, ctx):
    """The newest public issue; with `lang`, the newest that has an article in that language."""
    args = ctx.args
    issue = queries.latest_issue(session, ctx.now, args.get("lang"))
    if issue is None:
        raise NotFound(
            "No issue has been published yet."
            + (f" (none with an article in '{args['lang']}')" if args.get("lang") else "")
        )
    return issue_body(session, ctx, issue, args.get("fields_"))


def _issue_or_404(session, issue_id: str, now):
    start = parse_issue_id(issue_id)
    if start is None or start.weekday() != 0:
        raise NotFound(
            f"No issue '{issue_id[:40]}'. Issue ids are the Monday that starts the week (2022-02-14) or the ISO week "
            "(2022-W07); to find the issue covering a day, use /v1/issues?covers=YYYY-MM-DD."
        )
    issue = queries.get_issue(session, start, now)
    if issue is None:
        raise NotFound(f"No issue '{issue_id[:40]}'.")
    return issue


@bp.get("/v1/issues/<issue_id>")
@cached_endpoint(IssueItemArgs(), IssueItemSchema)
def get_issue(session, ctx, issue_id):
    """One issue by the Monday that starts it (2022-02-14) or its ISO week (2022-W07)."""
    issue = _issue_or_404(session, issue_id, ctx.now)
    return issue_body(session, ctx, issue, ctx.args.get("fields_"))


@bp.get("/v1/issues/<issue_id>/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema)
def issue_articles(session, ctx, issue_id):
    """The issue's public articles, newest first, with every article filter (an `issue` filter naming another
    issue matches nothing), paged like every article list."""
    issue = _issue_or_404(session, issue_id, ctx.now)
    chosen = ctx.args.get("issue")
    return article_page(session, ctx, issue=[] if chosen and issue.start not in chosen else [issue.start])
