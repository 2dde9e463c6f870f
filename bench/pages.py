"""`make bench-pages`: Lighthouse's performance score of the reader (/) and the docs (/docs), phone profile.

The score depends on this machine's CPU (Lighthouse simulates a slow phone from what it measures here), so it is
a benchmark figure, never a test; tests/test_lighthouse.py asserts what drives it (bytes, requests, layout
shift) and the accessibility and best-practices scores. RUNS runs per page (default 3); the median is printed
with every run's score and the metrics behind it. JSON in bench/results/pages-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import lighthouse  # noqa: E402

METRICS = ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
           "speed-index")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    why = lighthouse.missing()
    if why:
        print(why, file=sys.stderr)
        return 2
    results = {}
    with lighthouse.sample_server() as base, tempfile.TemporaryDirectory() as tmp:
        for page in lighthouse.PAGES:
            runs = []
            for n in range(opts.runs):
                report = lighthouse.run(base + page, Path(tmp) / str(n))
                total, urls = lighthouse.weight(report)
                runs.append({
                    **lighthouse.scores(report),
                    **{m: report["audits"][m]["displayValue"] for m in METRICS},
                    "bytes": total, "requests": len(urls),
                })  # fmt: skip
            median = statistics.median(r["performance"] for r in runs)
            results[page] = {"median_performance": median, "runs": runs}
            print(f"{page}: performance {median} (median of {[r['performance'] for r in runs]}), "
                  f"accessibility {runs[0]['accessibility']}, best practices {runs[0]['best-practices']}")  # fmt: skip
            for r in runs:
                print("   ", ", ".join(f"{m} {r[m]}" for m in (*METRICS, "bytes", "requests")))
    out = ROOT / "bench" / "results" / f"pages-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
