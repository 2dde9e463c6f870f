"""What sections and trend tags share: a vocabulary listed with counts, one term, and the term's articles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from api.pagination import Order
from api.problems import NotFound
from api.resources.articles import article_page
from api.resources.collection import collection
from api.store import queries


@dataclass(frozen=True)
class Taxonomy:
    """One vocabulary that classifies articles (sections, trend tags), answered the same way for each."""

    noun: str  # "section" / "trend tag", for messages
    model: type  # the term's model, keyed by `slug`
    column: object  # the article column holding the term's slug
    filter_key: str  # the article filter of that column
    order: Order
    lookup: Callable  # (session, slug) -> term | None, from api.store.queries
    annotations: tuple[Callable, ...] = ()  # more (session, terms, now) annotations beyond the article count

    @property
    def max_slug(self) -> int:
        return self.model.slug.type.length

    def annotate(self, session, terms: list, now) -> None:
        queries.annotate_counts(session, terms, self.column, "slug", now)
        for extra in self.annotations:
            extra(session, terms, now)

    def list(self, session, ctx):
        """Every term in use (a public article carries it) in display order, with its annotations."""
        return collection(
            session,
            queries.terms_in_use(self.model, self.column, ctx.now),
            self.order,
            ctx,
            annotate=lambda terms: self.annotate(session, terms, ctx.now),
        )

    def get_or_404(self, session, slug: str, now):
        term = self.lookup(session, slug[: self.max_slug])
        if term is None or not queries.term_in_use(session, self.column, term.slug, now):
            raise NotFound(f"No {self.noun} '{slug[: self.max_slug]}'.")
        return term

    def item(self, session, now, slug: str) -> dict:
        """One term with its annotations, as {"data": …}."""
        term = self.get_or_404(session, slug, now)
        self.annotate(session, [term], now)
        return {"data": term}

    def articles(self, session, ctx, slug: str):
        """The term's public articles with every article filter (a filter naming another term matches nothing)."""
        term = self.get_or_404(session, slug, ctx.now)
        chosen = ctx.args.get(self.filter_key)
        return article_page(
            session, ctx, **{self.filter_key: [] if chosen and term.slug not in chosen else [term.slug]}
        )
