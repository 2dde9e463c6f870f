"""The database time of each cold bench scenario, in process: every statement of one cold request under the
backend's EXPLAIN (`bench.run.explain`: ANALYZE and BUFFERS on PostgreSQL), best of `--repeat` runs.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test DATABASE_SCHEMA=bench_100000_<hash> \\
        python -m bench.plans

Database time only (planning + execution), not what a client waits: a change of session settings, indexes or
statements is read here before the bench (docs/performance.md#postgresql-session-settings).
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("QUERY_TIMEOUT_MS", "600000")
    os.environ.setdefault("RATELIMIT_ENABLED", "0")
    os.environ.pop("CACHE_REDIS_URL", None)  # a cache of the process's own: every request below is cold
    from api.app import create_app
    from bench.run import Plan, explain, scenarios

    app = create_app()
    for scenario in scenarios(Plan(app), 10):
        cold = scenario["cold"]
        url = cold[3] if isinstance(cold, list) else cold
        best = None
        for _ in range(args.repeat):
            plans = explain(app, url)
            statements = [(p.get("planning_ms") or 0) + (p.get("execution_ms") or 0) for p in plans]
            if best is None or sum(statements) < sum(best):
                best = statements
        print(f"{scenario['key']:14} {sum(best):8.2f} ms  " + " + ".join(f"{t:.2f}" for t in best), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
