"""`make fuzz` (second half): the schemathesis CLI against a live gunicorn on 127.0.0.1.

Loads the sample archive (which holds the draft/embargo/retraction canaries) into a temporary SQLite store,
starts gunicorn with deploy/gunicorn.conf.py (2 workers) on a free loopback port, and runs

    st run http://127.0.0.1:PORT/v1/openapi.json --checks all --exclude-checks positive_data_acceptance ...

with the contract suite's own checks loaded as schemathesis hooks (bench/st_hooks.py): problem+json status,
nosniff and Cache-Control, no canary. Exits with schemathesis's status; gunicorn is always stopped. A JUnit
report goes to bench/results/fuzz-live-<UTC timestamp>/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.ingest.loader import load_archive  # noqa: E402
from tests.live import Gunicorn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-examples", type=int, default=int(os.environ.get("CONTRACT_EXAMPLES", "200")))
    ap.add_argument("--workers", default="2", help="schemathesis client workers")
    ap.add_argument("--archive", default=str(ROOT / "data" / "archive"))
    args, extra = ap.parse_known_args(argv)
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if not st:
        sys.exit("the schemathesis CLI (st) is not installed: pip install -r requirements-dev.txt")
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-live-"))
    store = tmp / "store.sqlite"
    load_archive(args.archive, f"sqlite:///{store}")
    server = Gunicorn({"DATABASE_URL": f"sqlite:///{store}"}, workers=2)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = ROOT / "bench" / "results" / f"fuzz-live-{stamp}"
    try:
        cmd = [
            st, "run", f"http://127.0.0.1:{server.port}/v1/openapi.json",
            "--checks", "all",
            # Schema-valid but meaningless values (a cursor we never issued, a Tuesday as an issue id) are 400 by
            # design, as in the in-process contract test.
            "--exclude-checks", "positive_data_acceptance",
            "--mode", "all",
            "--max-examples", str(args.max_examples),
            "--workers", args.workers,
            "--request-timeout", "10",
            "--header", "Accept-Encoding: identity",
            "--report", "junit", "--report-dir", str(report_dir),
            *extra,
        ]  # fmt: skip
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "bench.st_hooks", "PYTHONPATH": str(ROOT)}
        print("$", " ".join(cmd), file=sys.stderr)
        code = subprocess.run(cmd, env=env, cwd=ROOT).returncode
        errors = [line for line in server.log_text().splitlines() if "Traceback" in line or "[ERROR]" in line]
        if errors:
            print(f"gunicorn logged {len(errors)} error lines:\n" + "\n".join(errors[:20]), file=sys.stderr)
            code = code or 1
        return code
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
