"""The swap bench's second generation (bench/generation.py): the same content under a new generation id, swapped in
by the writer's Target.swap, on both backends."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from api.ingest.loader import load_archive
from bench.generation import NextGeneration
from tests.conftest import ARCHIVE, make_app

URLS = (
    "/v1/articles?limit=5",
    "/v1/issues",
    "/v1/articles?q=economy",
    "/v1/feed.atom",
    "/v1/sections",
)


def _without_generation(body):
    """A JSON body with its generation fields (and the links and tokens that carry it) dropped."""
    if isinstance(body, dict):
        return {k: _without_generation(v) for k, v in body.items() if k not in ("generation", "changes")}
    if isinstance(body, list):
        return [_without_generation(v) for v in body]
    return body


def test_copy_is_a_new_generation_of_the_same_content(scratch_store):
    report = load_archive(ARCHIVE, scratch_store["DATABASE_URL"], schema=scratch_store["DATABASE_SCHEMA"])
    app = make_app(scratch_store)
    client = app.test_client()
    before = {u: client.get(u) for u in URLS}
    assert all(r.status_code == 200 for r in before.values())
    assert before["/v1/articles?q=economy"].get_json()["meta"]["total"] > 0  # the search table answers

    nxt = NextGeneration(scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"])
    new_id = nxt.prepare()
    assert nxt.old_id == report.generation != new_id
    assert nxt.articles == report.articles_loaded
    # Prepared, not yet live: the app still serves the old generation.
    assert client.get(URLS[0]).get_json()["meta"]["generation"] == before[URLS[0]].get_json()["meta"]["generation"]
    nxt.swap()

    after = {u: client.get(u, headers={"If-None-Match": before[u].headers["ETag"]}) for u in URLS}
    for url in URLS:
        assert after[url].status_code == 200, url  # a new generation: the old ETag no longer matches
        assert after[url].headers["ETag"] != before[url].headers["ETag"], url
        if after[url].is_json:
            assert _without_generation(after[url].get_json()) == _without_generation(before[url].get_json()), url
        else:
            assert after[url].data == before[url].data, url  # the feed carries no generation
    assert after[URLS[0]].get_json()["meta"]["generation"].startswith(new_id[:20])
    app.extensions["store"].dispose()

    if not scratch_store["DATABASE_URL"].startswith("sqlite"):
        _same_schema_objects(scratch_store["DATABASE_URL"], scratch_store["DATABASE_SCHEMA"])


def _same_schema_objects(url: str, schema: str) -> None:
    """The swapped-in copy has every table, constraint and index a loaded schema has (the GIN index included)."""
    fresh = f"{schema}_fresh"
    load_archive(ARCHIVE, url, schema=fresh)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:

            def objects(s: str) -> dict:
                tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": s})
                indexes = conn.execute(
                    text("SELECT tablename, replace(indexdef, :p, '') FROM pg_indexes WHERE schemaname = :s"),
                    {"s": s, "p": f"{s}."},
                )
                constraints = conn.execute(
                    text(
                        "SELECT rel.relname, con.contype, pg_get_constraintdef(con.oid) FROM pg_constraint con "
                        "JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = "
                        "rel.relnamespace WHERE ns.nspname = :s"
                    ),
                    {"s": s},
                )
                return {
                    "tables": sorted(tables.scalars()),
                    "indexes": sorted(map(tuple, indexes)),
                    "constraints": sorted(tuple(str(v).replace(f"{s}.", "") for v in r) for r in constraints),
                }

            copied, loaded = objects(schema), objects(fresh)
            assert copied == loaded
            assert any("USING gin" in d for _t, d in copied["indexes"])
            counts = {
                t: conn.execute(text(f'SELECT count(*) FROM "{schema}"."{t}"')).scalar() for t in copied["tables"]
            }
            assert counts == {
                t: conn.execute(text(f'SELECT count(*) FROM "{fresh}"."{t}"')).scalar() for t in loaded["tables"]
            }
            assert not conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname IN (:b, :o)"),
                {"b": f"{schema}_build", "o": f"{schema}_old"},
            ).first()
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{fresh}" CASCADE'))
        engine.dispose()


def test_windows_take_requests_by_their_start():
    """A request belongs to the window its start falls in, however long it took; unfinished ones are errors."""
    from bench.swap import window

    urls = ["/a", "/b"]
    # (start µs, latency µs, status, X-Cache-Status, URL line, previous X-Cache-Status)
    records = [
        (0.0, 1_000.0, 200, "HIT", 1, "-"),
        (999_999.0, 900_000.0, 200, "STALE", 2, "HIT"),  # starts in the first second, ends in the next
        (1_000_000.0, 2_000.0, 502, "MISS", 1, "STALE"),
        (1_500_000.0, 3_000.0, 200, "HIT", 2, "MISS"),
    ]
    first = window(records, 0.0, 1_000_000.0, 0, urls)
    assert (first["requests"], first["max_ms"], first["non_2xx"]) == (2, 900.0, 0)
    assert first["slowest"][0] == {
        "ms": 900.0,
        "path": "/b",
        "x_cache_status": "STALE",
        "previous_on_connection": "HIT",
    }
    second = window(records, 1_000_000.0, 2_000_000.0, 1, urls)
    assert (second["requests"], second["p50_ms"], second["max_ms"], second["non_2xx"]) == (2, 2.0, 3.0, 1)
    assert second["unfinished"] == 1 and second["miss_paths"] == {"/a": 1}
    assert second["p99_ms_by_previous_x_cache_status"]["STALE"] == {"requests": 1, "p99_ms": 2.0}


def test_lua_script_times_every_request(tmp_path):
    """The swap's wrk script records every response wrk counts, with its URL, status and X-Cache-Status."""
    import http.server
    import shutil
    import subprocess
    import threading

    import pytest

    from bench.swap import SWAP_LUA, read_done, read_records

    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.skip("wrk is not installed (make test installs Debian's wrk)")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the http.server API
            body = self.path.encode()
            self.send_response(404 if self.path == "/missing" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Cache-Status", "HIT" if self.path == "/a" else "MISS")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    urls = ["/a", "/b", "/missing"]
    (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
    out = tmp_path / "records"
    script = tmp_path / "swap.lua"
    script.write_text(
        SWAP_LUA.replace("__FILE__", str(tmp_path / "urls.txt"))
        .replace("__OUT__", str(out))
        .replace("__THREADS__", "2")
    )
    try:
        subprocess.run([wrk, "-t2", "-c2", "-d1s", "-s", str(script), f"http://127.0.0.1:{server.server_port}/"],
                       check=True, capture_output=True, timeout=30)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    records, total = read_records(out, 2)
    _pending, totals = read_done(out)
    assert total == len(records) == totals["requests"] > 10
    by_path = {}
    for _start, latency, status, cache, line, _previous in records:
        assert latency > 0
        by_path.setdefault(urls[line - 1], set()).add((status, cache))
    assert by_path == {"/a": {(200, "HIT")}, "/b": {(200, "MISS")}, "/missing": {(404, "MISS")}}
