"""The one way every collection is answered: paginate, dump, and add data/meta/links plus an RFC 8288 Link header."""

from __future__ import annotations

from flask import current_app, g, request
from marshmallow import Schema
from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.http import per_generation, url_with
from api.pagination import Order, Page, paginate
from schemas.compiled import dump_many


def collection(
    session: Session,
    stmt: Select,
    order: Order,
    args: dict,
    schema: type[Schema],
    filters: dict | None = None,
    annotate=None,
    **query,
) -> tuple[dict, dict]:
    """A page of `stmt` as the standard envelope, each item dumped by `schema` (compiled: schemas/compiled.py);
    `annotate(items)` may attach computed fields first; `query` passes `params`, `prepared` and `row` to paginate."""
    page = requested_page(session, stmt, order, args, filters=filters, **query)
    if annotate:
        annotate(page.items)
    links = page_links(page)
    body = {
        "data": dump_many(schema, page.items),
        "meta": {"limit": args["limit"], "total": page.total, "page": page.page, "generation": g.generation.id[:20]},
        "links": links,
    }
    link_header = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self")
    return body, {"Link": link_header}


def requested_page(session: Session, stmt: Select, order: Order, args: dict, **query) -> Page:
    """The page of `stmt` that the request's `limit`, `cursor` and `page` arguments ask for (see paginate); its
    total is kept once per generation, path, order and filter set."""
    filters = query.get("filters") or {}

    def memo(compute):
        return per_generation("count", compute, path=request.path, order=order.name, filters=filters)

    return paginate(
        session, stmt, order, limit=args["limit"], cursor=args.get("cursor"), page=args.get("page"),
        signer=current_app.extensions["signer"], version=g.content_key, memo=memo, **query,
    )  # fmt: skip


def page_links(page: Page) -> dict:
    """This page's own URL and those of the first, next and previous pages (None where there is none)."""
    return {
        "self": url_with(),
        "first": url_with(cursor=None, page=None),
        "next": url_with(cursor=page.next_cursor, page=None) if page.next_cursor else None,
        "prev": url_with(cursor=page.prev_cursor, page=None) if page.prev_cursor else None,
    }
