"""Issues: the weekly list, one issue with its articles grouped by section, and the latest issue."""

from __future__ import annotations

from flask import Blueprint

from api.http import cached_endpoint
from api.problems import NotFound
from api.resources.articles import article_page, fieldset, list_fields
from api.resources.collection import Extended, collection
from api.resources.feeds import feed_links
from api.store import queries
from schemas.args import ArticleListArgs, IssueItemArgs, IssueListArgs
from schemas.fields import parse_issue_id
from schemas.output import ArticleListSchema, ArticleSummarySchema, IssueItemSchema, IssueListSchema, issue_id

bp = Blueprint("issues", __name__)

#: `fields` picks the fields of the issue's article summaries.
issue_fields = fieldset("data.sections.articles.", ArticleSummarySchema)


def issue_body(session, ctx, issue) -> dict:
    """An issue with its first articles as summaries, grouped by section in editorial order: at most
    ISSUE_ARTICLES_PER_SECTION per section and ISSUE_ARTICLES_MAX in all, each section with its article count and
    the link to all of them (the issue's article list), so the body is bounded however big the week is."""
    now, lang = ctx.now, ctx.args.get("lang")
    terms = queries.terms(session, ctx.generation.id)
    articles = queries.issue_articles(session, issue, now, terms, lang)
    # `lang` picks the articles listed and those counted; the issue's counts come with the sections' (one query)
    counts = queries.issue_section_counts(session, issue, now, lang)
    shown: dict = {}
    for a in articles:
        shown.setdefault(a.section_slug, []).append(a)
    listed = f"{ctx.base}/v1/issues/{issue_id(issue.start)}/articles"
    lang_query = f"lang={lang}" if lang else ""

    def section_key(slug):
        term = terms.sections.get(slug) if slug is not None else None
        return (term is None or term.position is None, term.position if term else 0, slug or "")

    sections = []
    for slug in sorted(counts, key=section_key):
        section = terms.sections.get(slug) if slug is not None else None
        query = "&".join(q for q in (f"section={slug}" if section else "", lang_query) if q)
        sections.append(
            {
                "section": section,
                "articles": shown.get(slug, []),
                "article_count": counts[slug],
                "articles_url": listed + (f"?{query}" if query else ""),
            }
        )
    prev, nxt = queries.neighbours(session, issue, now)
    total = sum(counts.values())
    meta = {
        "articles_listed": len(articles),
        "article_count": total,
        "truncated": len(articles) < total,
        "per_section_max": queries.ISSUE_ARTICLES_PER_SECTION,
        "max": queries.ISSUE_ARTICLES_MAX,
    }
    links = {**feed_links(ctx, issue=issue.start.isoformat()), "articles": listed + (f"?{lang_query}" if lang else "")}
    return {"data": Extended(issue, sections=sections, previous=prev, next=nxt), "meta": meta, "links": links}


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
        filters={k: str(v) for k, v in filters.items()},
        annotate=lambda items: queries.annotate_issues(session, items, now, args.get("lang")),
    )


@bp.get("/v1/issues/latest")
@cached_endpoint(IssueItemArgs(), IssueItemSchema, exclude=issue_fields)
def latest_issue(session, ctx):
    """The newest public issue; with `lang`, the newest that has an article in that language."""
    args = ctx.args
    issue = queries.latest_issue(session, ctx.now, args.get("lang"))
    if issue is None:
        raise NotFound(
            "No issue has been published yet."
            + (f" (none with an article in '{args['lang']}')" if args.get("lang") else "")
        )
    return issue_body(session, ctx, issue)


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
@cached_endpoint(IssueItemArgs(), IssueItemSchema, exclude=issue_fields)
def get_issue(session, ctx, issue_id):
    """One issue by the Monday that starts it (2022-02-14) or its ISO week (2022-W07)."""
    issue = _issue_or_404(session, issue_id, ctx.now)
    return issue_body(session, ctx, issue)


@bp.get("/v1/issues/<issue_id>/articles")
@cached_endpoint(ArticleListArgs(), ArticleListSchema, exclude=list_fields)
def issue_articles(session, ctx, issue_id):
    """The issue's public articles, newest first, with every article filter (an `issue` filter naming another
    issue matches nothing), paged like every article list."""
    issue = _issue_or_404(session, issue_id, ctx.now)
    chosen = ctx.args.get("issue")
    return article_page(session, ctx, issue=[] if chosen and issue.start not in chosen else [issue.start])
