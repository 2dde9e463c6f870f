"""The flows of tests/clients/ts/flows.ts, through the client openapi-python-client generates from /v1/openapi.json.

Run by tests/test_clients.py as `python flows.py BASE_URL` with the generated package `bulletin_client` on
PYTHONPATH; prints the same JSON summary as the TypeScript program, so the two clients can be compared.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import parse_qs, urlsplit

from bulletin_client import Client
from bulletin_client.api.articles import get_article, list_articles
from bulletin_client.api.changes import list_changes
from bulletin_client.api.issues import get_latest_issue
from bulletin_client.models import (
    ArticleFull,
    ArticleItem,
    ArticleList,
    ChangeFeed,
    ChangeUpsert,
    CodeBlock,
    GetArticleFormat,
    GetLatestIssueLang,
    HeadingBlock,
    ImageBlock,
    IssueItem,
    ListArticlesLang,
    ListBlock,
    ParagraphBlock,
    QuoteBlock,
    TableBlock,
)
from bulletin_client.types import UNSET, Unset


def _ok(value, kind, what: str):
    if not isinstance(value, kind):
        raise SystemExit(f"{what}: expected {kind.__name__}, got {value!r}")
    return value


def _given(value, default):
    return default if isinstance(value, Unset) or value is None else value


def cursor_of(next_url: str | None) -> str | None:
    if next_url is None:
        return None
    return parse_qs(urlsplit(next_url).query).get("cursor", [None])[0]


Block = ParagraphBlock | HeadingBlock | QuoteBlock | ListBlock | CodeBlock | ImageBlock | TableBlock


def block_text(block: Block) -> str:
    if isinstance(block, (ParagraphBlock, HeadingBlock, CodeBlock)):
        return block.text
    if isinstance(block, QuoteBlock):
        return "\n\n".join(block_text(b) for b in block.blocks)
    if isinstance(block, ImageBlock):
        return block.alt
    if isinstance(block, TableBlock):
        return "\n".join("\t".join(cell.text for cell in row.cells) for row in block.rows)
    return "\n".join(f"{i}) {item}" if block.ordered else f"• {item}" for i, item in enumerate(block.items, 1))


def latest_issue(client: Client) -> dict:
    body = _ok(get_latest_issue.sync(client=client, lang=GetLatestIssueLang.EN), IssueItem, "latest issue")
    issue = body.data
    return {
        "id": issue.id,
        "title": issue.title,
        "sections": [None if group.section is None else group.section.slug for group in issue.sections],
        "articles": [a.slug for group in issue.sections for a in group.articles],
        "previous": None if issue.previous is None else issue.previous.id,
        "feed": body.links.feed,
    }


def walk_articles(client: Client, limit: int) -> dict:
    slugs, cursor, total, pages = [], None, -1, 0
    while True:
        page = _ok(
            list_articles.sync(client=client, limit=limit, cursor=UNSET if cursor is None else cursor),
            ArticleList,
            "article page",
        )
        total = page.meta.total
        slugs += [a.slug for a in page.data]
        pages += 1
        cursor = cursor_of(page.links.next_)
        if cursor is None:
            return {"total": total, "pages": pages, "slugs": slugs}


def article_blocks(client: Client, slug: str) -> dict:
    body = _ok(
        get_article.sync(slug, client=client, format_=GetArticleFormat.BLOCKS, include="related"),
        ArticleItem,
        "article",
    )
    article = body.data
    blocks = _given(_given(article.body, None) and article.body.blocks, [])
    translations = _given(article.translations, None)
    included = _given(body.included, None)
    return {
        "slug": article.slug,
        "title": _given(article.title, ""),
        "kinds": [b.type_.value for b in blocks],
        "text": "\n\n".join(block_text(b) for b in blocks),
        "translations": [] if translations is None else list(translations.additional_properties),
        "related": [a.slug for a in _given(included and included.related, [])],
    }


def filtered(client: Client, section: str, trend: str) -> dict:
    page = _ok(
        list_articles.sync(
            client=client, section=section, trend=trend, lang=ListArticlesLang.EN, limit=100, include="section,trend"
        ),
        ArticleList,
        "filtered list",
    )
    sections = [None if _given(a.section, None) is None else a.section.slug for a in page.data]
    trends = [None if _given(a.trend, None) is None else a.trend.direction.value for a in page.data]
    included = _given(page.included, None)
    return {
        "total": page.meta.total,
        "slugs": [a.slug for a in page.data],
        "sections": list(dict.fromkeys(sections)),
        "trends": list(dict.fromkeys(trends)),
        "included": [f"{s.slug}:{s.article_count}" for s in _given(included and included.section, [])],
    }


def search(client: Client, q: str) -> dict:
    page = _ok(list_articles.sync(client=client, q=q, limit=100), ArticleList, "search")
    return {
        "total": page.meta.total,
        "slugs": [a.slug for a in page.data],
        "marked": all("<mark>" in _given(a.snippet, "") for a in page.data),
    }


def sync_changes(client: Client, limit: int) -> dict:
    copy: dict[str, ArticleFull] = {}
    since, upserts, deletes, pages, more = None, 0, 0, 0, True
    while more:
        page = _ok(
            list_changes.sync(client=client, limit=limit, since=UNSET if since is None else since),
            ChangeFeed,
            "changes",
        )
        for change in page.data:
            if isinstance(change, ChangeUpsert):
                copy[change.article.slug] = change.article
                upserts += 1
            else:
                copy.pop(change.tombstone.slug, None)
                deletes += 1
        since, more, pages = page.meta.next_, page.meta.has_more, pages + 1
    return {"upserts": upserts, "deletes": deletes, "pages": pages, "slugs": sorted(copy), "token": since}


def main(base: str) -> dict:
    with Client(base_url=base, raise_on_unexpected_status=True) as client:
        issue = latest_issue(client)
        walk = walk_articles(client, 4)
        return {
            "issue": issue,
            "walk": walk,
            "blocks": [article_blocks(client, slug) for slug in issue["articles"]],
            "list": filtered(client, "economy", "worse"),
            "hits": search(client, "minsk"),
            "sync": sync_changes(client, 5),
        }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), ensure_ascii=False))
