"""Lighthouse (npm, pinned in package.json) with Debian's Chromium on the reader (/) and the docs (/docs).

Shared by tests/test_lighthouse.py (accessibility, best practices, page weight and request count: none of them
depends on the machine's speed) and bench/pages.py (the performance score, which does: a benchmark figure).
The phone profile is Lighthouse's default (`formFactor: mobile`, a Moto G Power screen, slow 4G and a 4x CPU
slowdown, simulated).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google's hosts, refused on a closed network.
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
)
PAGES = ("/", "/docs")


def missing() -> str | None:
    """Why Lighthouse cannot run here, or None."""
    if not LIGHTHOUSE.exists():
        return "node_modules/.bin/lighthouse is missing (npm ci)"
    if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
        return "chromium is not installed (apt-get install chromium)"
    return None


@contextmanager
def sample_server():
    """The app with the sample archive on a free loopback port (werkzeug, threaded): its base URL."""
    from werkzeug.serving import make_server

    from tests.conftest import ARCHIVE, load_archive, make_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.sqlite"
        load_archive(ARCHIVE, url, schema=None)
        app = make_app({"DATABASE_URL": url, "DATABASE_SCHEMA": None, "CACHE_REDIS_URL": ""})
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{srv.server_port}"
        finally:
            srv.shutdown()
            thread.join(5)
            srv.server_close()
            app.extensions["store"].dispose()


def run(url: str, out_dir: Path) -> dict:
    """One Lighthouse run (phone profile) of `url`: the report as a dict (also kept as JSON in out_dir)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = url.split("://", 1)[1].split("/", 1)[1].strip("/").replace("/", "-") or "reader"
    report = out_dir / f"lighthouse-report-{page}.json"
    profile = tempfile.mkdtemp(prefix="lighthouse-profile-")
    try:
        subprocess.run(
            [
                str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
                "--only-categories=performance,accessibility,best-practices",
                f"--chrome-flags={CHROME_FLAGS} --user-data-dir={profile}",
            ],
            env={**os.environ, "CHROME_PATH": shutil.which("chromium") or CHROMIUM},
            check=True, timeout=240, capture_output=True,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return json.loads(report.read_text(encoding="utf-8"))


def scores(report: dict) -> dict[str, int]:
    """Category scores as Lighthouse prints them (0-100)."""
    return {k: round(v["score"] * 100) for k, v in report["categories"].items() if v["score"] is not None}


def failed_audits(report: dict, category: str) -> list[str]:
    """The audits of `category` that cost points, with what they found (to say why a score fell)."""
    out = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
            out.append(f"{ref['id']}: {audit.get('displayValue') or audit['title']}")
    return out


def weight(report: dict) -> tuple[int, list[str]]:
    """(bytes transferred, the URLs requested) of the page load."""
    items = report["audits"]["network-requests"]["details"]["items"]
    return int(report["audits"]["total-byte-weight"]["numericValue"]), [i["url"] for i in items]
