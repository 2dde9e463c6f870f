"""What views share to answer: every collection's page as data/meta/links plus an RFC 8288 Link header, and a
stored object with what a view adds to it. Views return these objects; the endpoint's response schema dumps them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.context import RequestContext
from api.http import per_generation
from api.pagination import Order, Page, paginate


class Extended:
    """`obj` with more attributes (an article's translations, an issue's sections), for the schema to dump."""

    def __init__(self, obj: Any, **more: Any):
        self.__dict__.update(more)
        self._obj = obj

    def __getattr__(self, name: str) -> Any:  # only for names not given here
        return getattr(self._obj, name)


def collection(
    session: Session,
    stmt: Select,
    order: Order,
    ctx: RequestContext,
    filters: dict | None = None,
    annotate=None,
    **query,
) -> tuple[dict, dict]:
    """A page of `stmt` as the standard envelope ({data: the page's items, meta, links}, see listing);
    `annotate(items)` may attach computed fields first; `query` passes `params`, `prepared` and `row` to paginate."""
    page = requested_page(session, stmt, order, ctx, filters=filters, **query)
    if annotate:
        annotate(page.items)
    return listing(ctx, page)


def listing(ctx: RequestContext, page: Page, **meta) -> tuple[dict, dict]:
    """{data, meta, links} of a page (`meta` adds to limit, total, total_estimated, page and generation), and its
    Link header."""
    links = page_links(ctx, page)
    body = {
        "data": page.items,
        "meta": {
            **meta,
            "limit": ctx.args["limit"],
            "total": page.total,
            "total_estimated": page.total_estimated,
            "page": page.page,
            "generation": ctx.generation.id[:20],
        },
        "links": links,
    }
    link_header = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self")
    return body, {"Link": link_header}


def requested_page(session: Session, stmt: Select, order: Order, ctx: RequestContext, **query) -> Page:
    """The page of `stmt` that the request's `limit`, `cursor` and `page` arguments ask for (see paginate); its
    total is kept once per generation, path, order and filter set."""
    filters = query.get("filters") or {}

    def memo(compute):
        return per_generation(ctx, "count", compute, path=ctx.path, order=order.name, filters=filters)

    args = ctx.args
    return paginate(
        session, stmt, order, limit=args["limit"], cursor=args.get("cursor"), page=args.get("page"),
        signer=ctx.signer, version=ctx.content_key, memo=memo, **query,
    )  # fmt: skip


def page_links(ctx: RequestContext, page: Page) -> dict:
    """This page's own URL and those of the first, next and previous pages (None where there is none)."""
    return {
        "self": ctx.url(),
        "first": ctx.url(cursor=None, page=None),
        "next": ctx.url(cursor=page.next_cursor, page=None) if page.next_cursor else None,
        "prev": ctx.url(cursor=page.prev_cursor, page=None) if page.prev_cursor else None,
    }
