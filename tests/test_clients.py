"""Tools nobody here wrote read the served /v1/openapi.json: two linters and two client generators.

Redocly CLI (recommended rules) and Spectral (spectral:oas) must report nothing at all; a TypeScript client
(openapi-typescript + openapi-fetch) and a Python client (openapi-python-client) are generated from the document
and run the flows of tests/clients/ (latest issue, the article walk by cursor, an article as blocks, a filtered
list, a search, a change-feed sync) against a live gunicorn, and must agree with each other and with the API.
The TypeScript program must pass `tsc --strict --noEmit` with no cast, `any` or `unknown`, and the generated
types must hold no `unknown` nor `Record<string, never>` of ours.

The npm tools come from package.json / package-lock.json (`npm ci`, run by `make test`); openapi-python-client
from requirements-dev.txt. Outside CI a missing tool skips its test; in CI (CI=true) it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE
from tests.live import Gunicorn, get

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ROOT / "tests" / "clients"
BIN = ROOT / "node_modules" / ".bin"
NODE_ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}

pytestmark = pytest.mark.tools


def tool(path: Path | str | None, what: str) -> str:
    """The tool's path; skip when it is missing, except in CI, where a missing tool is a failure."""
    if path and Path(path).exists():
        return str(path)
    message = f"{what} is not installed (npm ci / pip install -r requirements-dev.txt)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + ", and CI must run it")
    pytest.skip(message)


def run(*cmd: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env or NODE_ENV, capture_output=True, text=True, timeout=timeout)
    print(f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}")  # shown by pytest -rA / on failure
    return done


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn on a free loopback port over the sample archive (SQLite)."""
    store = tmp_path_factory.mktemp("clients") / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{store}")
    live = Gunicorn({"DATABASE_URL": f"sqlite:///{store}"}, workers=1)
    yield f"http://127.0.0.1:{live.port}", live.port
    live.stop()


@pytest.fixture(scope="module")
def spec_file(server, tmp_path_factory) -> Path:
    """The document exactly as the live server serves it."""
    status, _, body = get(server[1], "/v1/openapi.json")
    assert status == 200
    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    path.write_bytes(body)
    return path


def api(port: int, url: str) -> dict:
    status, _, body = get(port, url)
    assert status == 200, url
    return json.loads(body)


def test_redocly_recommended_reports_nothing(spec_file):
    redocly = tool(BIN / "redocly", "Redocly CLI")
    done = run(redocly, "lint", "--format", "json", "--config", str(CLIENTS / "redocly.yaml"), str(spec_file))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0} and report["problems"] == [], report


def test_spectral_oas_reports_nothing(spec_file):
    spectral = tool(BIN / "spectral", "Spectral CLI")
    done = run(spectral, "lint", "--ruleset", str(CLIENTS / "spectral.yaml"), "--fail-severity", "hint", str(spec_file))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "No results with a severity of 'hint' or higher found!" in out, out


#: What openapi-typescript writes whatever the document: response headers stay open (`[name: string]: unknown`,
#: HTTP allows any header) and the document's absent webhooks and $defs are empty.
BOILERPLATE = (
    re.compile(r"^\s*\[name: string\]: unknown;$"),
    re.compile(r"^export type (webhooks|\$defs) = Record<string, never>;$"),
)


def _strays(types: str) -> list[str]:
    """Lines of generated code (not comments) that type something as unknown, any or an empty object."""
    return [
        line
        for line in types.splitlines()
        if not line.strip().startswith(("*", "/*", "//"))
        and re.search(r"\bunknown\b|Record<string, never>|\bany\b", line)
        and not any(p.match(line) for p in BOILERPLATE)
    ]


def _summaries_agree_with_the_api(summary: dict, port: int) -> None:
    latest = api(port, "/v1/issues/latest?lang=en")["data"]
    assert summary["issue"]["id"] == latest["id"] and summary["issue"]["title"] == latest["title"]
    walk = summary["walk"]
    assert walk["total"] == api(port, "/v1/articles?limit=1")["meta"]["total"] == len(walk["slugs"])
    assert len(set(walk["slugs"])) == len(walk["slugs"]) and walk["pages"] == -(-walk["total"] // 4)
    blocks = summary["blocks"]  # each article of the latest issue as blocks: paragraphs and at least one list
    assert [b["slug"] for b in blocks] == summary["issue"]["articles"] and all(b["text"] for b in blocks)
    assert {kind for b in blocks for kind in b["kinds"]} == {"paragraph", "list"}
    for b in blocks:  # include=related, read through each generated client's types
        assert b["related"] == [a["slug"] for a in api(port, f"/v1/articles/{b['slug']}/related")["data"]]
    assert any(b["related"] for b in blocks)
    listed = summary["list"]
    assert listed["total"] >= 1 and listed["sections"] == ["economy"] and listed["trends"] == ["worse"]
    assert listed["total"] == api(port, "/v1/articles?section=economy&trend=worse&lang=en")["meta"]["total"]
    assert listed["included"] and listed["included"][0].startswith("economy:")
    assert summary["hits"]["total"] >= 1 and summary["hits"]["marked"]
    sync = summary["sync"]
    # a full sync from the change feed ends with a copy of exactly the public articles
    assert sync["slugs"] == sorted(walk["slugs"]) and sync["upserts"] >= len(walk["slugs"]) and sync["token"]


@pytest.fixture(scope="module")
def python_summary(server, spec_file, tmp_path_factory) -> dict:
    generator = tool(Path(sys.executable).with_name("openapi-python-client"), "openapi-python-client")
    out = tmp_path_factory.mktemp("pyclient")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # its ruff post-hook
    done = run(generator, "generate", "--path", str(spec_file), "--meta", "none", "--config",
               str(CLIENTS / "python-client.yaml"), "--output-path", str(out / "bulletin_client"), env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, "the generator left something out"
    flows = run(sys.executable, str(CLIENTS / "flows.py"), server[0], env={**env, "PYTHONPATH": str(out)})
    assert flows.returncode == 0, flows.stderr
    return json.loads(flows.stdout)


def test_python_client_runs_the_flows(python_summary, server):
    _summaries_agree_with_the_api(python_summary, server[1])


def test_typescript_client_is_strict_and_runs_the_flows(server, spec_file, tmp_path, python_summary):
    generate = tool(BIN / "openapi-typescript", "openapi-typescript")
    tsc = tool(BIN / "tsc", "TypeScript")
    node = tool(shutil.which("node"), "Node.js")
    work = tmp_path / "ts"
    work.mkdir()
    for name in ("flows.ts", "tsconfig.json"):
        shutil.copy(CLIENTS / "ts" / name, work / name)
    (work / "package.json").write_text('{"type": "module"}\n')
    (work / "node_modules").symlink_to(ROOT / "node_modules")
    done = run(generate, str(spec_file), "--output", str(work / "schema.d.ts"))
    assert done.returncode == 0, done.stderr
    types = (work / "schema.d.ts").read_text()
    assert _strays(types) == []
    source = (CLIENTS / "ts" / "flows.ts").read_text()
    code = "\n".join(line.split("//")[0] for line in source.splitlines())
    assert not re.search(r"\bany\b|\bunknown\b|\bas\s+(?!const\b)[A-Za-z{(\[]|<[A-Z][A-Za-z]*>\s*[a-z(]|!\.", code)
    checked = run(tsc, "--strict", "--noEmit", "-p", str(work / "tsconfig.json"))
    assert checked.returncode == 0, checked.stdout
    built = run(tsc, "--noCheck", "-p", str(work / "tsconfig.json"))  # checked just above: emit only
    assert built.returncode == 0, built.stdout
    flows = run(node, str(work / "out" / "flows.js"), server[0])
    assert flows.returncode == 0, flows.stderr
    summary = json.loads(flows.stdout)
    _summaries_agree_with_the_api(summary, server[1])
    assert summary == python_summary, "the two generated clients disagree"
