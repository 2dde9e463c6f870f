"""The W3C Feed Validation Service's own checks on every feed variant, run from a local checkout of it.

The validator (github.com/w3c/feedvalidator, Python 3) is not on PyPI or in Debian, so it is not part of the
project: clone it anywhere, give this script its `src` directory and a Python that has its three dependencies
(lxml, html5lib, rdflib), e.g.

    git clone https://github.com/w3c/feedvalidator /tmp/fv && python3 -m venv /tmp/fv-venv
    /tmp/fv-venv/bin/pip install lxml html5lib rdflib
    .venv/bin/python -m bench.feed_validator --src /tmp/fv/src --python /tmp/fv-venv/bin/python

Each feed is fetched from the app (the sample archive in a temporary SQLite store) and validated as its check.cgi
does (compatibility level AA, text formatter), with its own URL as the document location so `rel="self"` is
checked too. Prints every message and exits 1 on any error or warning. The rules it enforced here are tested
in tests/test_feeds.py, which runs in `make test` without the validator.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ARCHIVE, load_archive, make_app  # noqa: E402

BASE = "http://www.feedvalidator.org"
QUERIES = [
    "", "?limit=5", "?issue=2022-02-14", "?lang=ru", "?lang=be", "?limit=3&sort=oldest", "?limit=2&section=economy",
    "?q=sanctions", "?trend=worse",
]  # fmt: skip

RUN = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import feedvalidator
from feedvalidator import compatibility
from feedvalidator.formatter.text_plain import Formatter
failed = 0
for path, url in json.load(sys.stdin):
    events = compatibility.AA(feedvalidator.validateString(open(path, "rb").read(), firstOccurrenceOnly=1,
                                                           base=url)["loggedEvents"])
    out = Formatter(events)
    errors, warnings = len(out.getErrors()), len(out.getWarnings())
    print(f"{url}: {errors} errors, {warnings} warnings")
    for line in out:
        print("   ", line)
    failed += errors + warnings
sys.exit(1 if failed else 0)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="the validator checkout's src directory")
    parser.add_argument("--python", default=sys.executable, help="a Python with lxml, html5lib and rdflib")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.sqlite"
        load_archive(ARCHIVE, url, schema=None)
        app = make_app({"DATABASE_URL": url, "DATABASE_SCHEMA": None, "CACHE_REDIS_URL": "", "PUBLIC_BASE_URL": BASE})
        client = app.test_client()
        jobs = []
        for n, (kind, query) in enumerate((k, q) for k in ("atom", "rss") for q in QUERIES):
            resp = client.get(f"/v1/feed.{kind}{query}")
            assert resp.status_code == 200, (kind, query, resp.status_code)
            path = Path(tmp) / f"{n}.{kind}.xml"
            path.write_bytes(resp.data)
            # the feed's own self link, as the validator would have fetched it
            jobs.append((str(path), resp.headers["Link"].split(">")[0][1:] if query else f"{BASE}/v1/feed.{kind}"))
        app.extensions["store"].dispose()
        return subprocess.run([opts.python, "-c", RUN, opts.src], input=json.dumps(jobs), text=True).returncode


if __name__ == "__main__":
    sys.exit(main())
