"""The per-generation counts, the writer's side: what the loader writes so that queries.article_total() and the
section and trend counts sum a few rows instead of counting articles.

Two tables, built from the articles just inserted in the load's own transaction:

* `article_total` (models.ArticleTotal): one row per combination of section, trend tag, language, status and
  embargo end, with its articles (`n`) and those of them that have an issue week (`dated`);
* `article_count` (models.ArticleCount): one row per combination and issue week, with the week's articles (`n`)
  and the combination's articles up to and including that week (`running`, a prefix sum in week order); articles
  without a week have none.

A total over weeks `from_ ≤ week ≤ to` is, per combination, `running` at the last week ≤ to minus `running` at the
last week < from_: two index lookups per combination, whatever the number of weeks.
"""

from __future__ import annotations

from sqlalchemy import case, func, insert, literal, select
from sqlalchemy.engine import Connection

from api.store.models import VISIBILITY, Article, ArticleCount, ArticleTotal

#: What a combination is made of: the filterable columns but the week, and the visibility columns.
COMBINATION = ("section_slug", "trend_slug", "lang", *VISIBILITY)


def build_counts(conn: Connection) -> None:
    """Write both tables for the articles just inserted (same transaction as the load)."""
    keys = [getattr(Article, name) for name in COMBINATION]
    weekly = select(*keys, Article.issue_start, func.count().label("n")).group_by(*keys, Article.issue_start).subquery()
    combination = [weekly.c[name] for name in COMBINATION]
    dated = case((weekly.c.issue_start.is_(None), literal(0)), else_=weekly.c.n)
    ranked = select(
        func.dense_rank().over(order_by=combination).label("combo"),
        *combination,
        weekly.c.issue_start,
        weekly.c.n,
        dated.label("dated"),
        # the week's own articles and those of the combination's earlier weeks (an undated row is not kept)
        func.sum(dated).over(partition_by=combination, order_by=weekly.c.issue_start).label("running"),
    ).subquery()
    r = ranked.c
    conn.execute(
        insert(ArticleCount).from_select(
            ["combo", "issue_start", "n", "running"],
            select(r.combo, r.issue_start, r.n, r.running).where(r.issue_start.is_not(None)),
        )
    )
    combos = [r[name] for name in COMBINATION]
    totals = select(r.combo, *combos, func.sum(r.n), func.sum(r.dated)).group_by(r.combo, *combos)
    conn.execute(insert(ArticleTotal).from_select(["combo", *COMBINATION, "n", "dated"], totals))
