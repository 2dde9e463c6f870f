"""What a search page's snippets cost on PostgreSQL by article length:
`python -m bench.snippets [--size 1000] [--repeat 6] [--rounds 30]`.

The bench's kept PostgreSQL schema of `--size` articles (the local server, as `--local-services`; loaded first when
there is none) and a scratch copy of its articles and search documents whose bodies are repeated `--repeat` times
(the bench's synthetic bodies hold about 150 words; a real bulletin article 500–1 000). On each, for a common word
and a two-word query, the 20 hits' snippets statement (`search.snippets`) with the headline's window
(`search.HEADLINE_WINDOW`) and with a window holding the whole text, interleaved, median of `--rounds`: ratios
within one run, the absolute figures for context. The scratch schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = (["pressure"], ["pardons", "potash"])
SCRATCH = "bench_snippets"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import create_engine, text

    from api.store import search
    from bench.cpu_split import _stores

    _, pg_url, schema, _ = _stores(args.size)
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE; CREATE SCHEMA {SCRATCH}"))
        conn.execute(text(f"CREATE TABLE {SCRATCH}.article AS SELECT * FROM {schema}.article"))
        conn.execute(text(f"UPDATE {SCRATCH}.article SET body_text = repeat(body_text || E'\\n', {args.repeat})"))
        conn.execute(text(f"CREATE TABLE {SCRATCH}.article_search AS SELECT * FROM {schema}.article_search"))
        conn.execute(text(f"CREATE INDEX ON {SCRATCH}.article (id); CREATE INDEX ON {SCRATCH}.article_search (article_id)"))  # fmt: skip
    statements = {
        "window": search.snippets_statement(search.pg_snippets_sql(search.HEADLINE_WINDOW, search.HEADLINE_BEFORE)),
        "whole text": search.snippets_statement(search.pg_snippets_sql(10**9, 10**9)),
    }
    print(f"snippets of 20 hits, ms (median of {args.rounds}), window {search.HEADLINE_WINDOW} characters")
    print("\n| articles | words per body | query | window | whole text | window / whole |\n| --- | ---: | --- | ---: | ---: | ---: |")  # fmt: skip
    try:
        for label, where in ((f"bench's ({args.size})", schema), (f"bodies × {args.repeat}", SCRATCH)):
            with engine.connect() as conn:
                conn.execute(text(f"SET search_path = {where}"))
                words = conn.scalar(text("SELECT avg(array_length(regexp_split_to_array(body_text, '\\s+'), 1)) FROM article"))  # fmt: skip
                for query in QUERIES:
                    fts_q = " ".join(query)
                    ids = list(conn.scalars(text(
                        "SELECT article_id FROM article_search WHERE document @@ plainto_tsquery(config, :q) LIMIT 20"
                    ), {"q": fts_q}))  # fmt: skip
                    params = search.pg_snippets_params(ids, query)
                    times: dict[str, list[float]] = {k: [] for k in statements}
                    for _ in range(args.rounds):
                        for key, stmt in statements.items():
                            started = time.perf_counter()
                            conn.execute(stmt, params).all()
                            times[key].append(1000 * (time.perf_counter() - started))
                    win, whole = (statistics.median(times[k]) for k in statements)
                    print(f"| {label} | {words:.0f} | `{fts_q}` | {win:.2f} | {whole:.2f} | {win / whole:.2f}× |")
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"))
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
