"""The hot path's rules (api/hot.py), against a made-up WSGI app and store, so each rule is pinned exactly: what
makes two requests one entry, what it keeps and never keeps, when a kept answer stops being replayed, its 304s,
and the bounds on its memory. tests/test_hot.py checks the same middleware in front of the real app.

The made-up app answers every request with a body naming the request inputs it was given, and marks its 200s
replayable under a response key of its choosing (the real app's key covers the validated arguments: two raw
requests that validate alike share it, so they may share an entry)."""

from __future__ import annotations

import datetime as dt

import pytest

from api import http
from api.hot import HotPath
from api.store.db import StoreUnavailable

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HORIZON = 300  # seconds: the longest lifetime the app gives a response


class Generation:
    def __init__(self, version: str = "g1", next_change: dt.datetime | None = None):
        self.version, self.change = version, next_change

    def key(self, now):
        return self.version

    def next_change(self, now):
        return self.change


class Store:
    def __init__(self, generation: Generation | None = None):
        self.generation = generation or Generation()

    def current(self):
        if self.generation is None:
            raise StoreUnavailable("gone")
        return self.generation


PARTS = ("wsgi.url_scheme", "HTTP_HOST", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "HTTP_ACCEPT_LANGUAGE",
         "HTTP_ACCEPT_ENCODING")  # fmt: skip


class App:
    """A WSGI app whose answer names its inputs; `status`, `replayable`, `key` and `chunks` shape the next ones."""

    def __init__(self):
        self.calls, self.closed = 0, 0
        self.status, self.replayable, self.key = "200 OK", True, None
        self.chunks = None  # the body in these pieces, else one
        self.exc_info = None

    def __call__(self, environ, start_response):
        self.calls += 1
        body = "|".join(str(environ.get(p, "")) for p in PARTS).encode() + b" call %d" % self.calls
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        headers = [("Content-Type", "text/plain"), ("ETag", f'"e{self.calls}"'), ("Link", "<x>; rel=next"),
                   ("Content-Length", str(len(body)))]  # fmt: skip
        if self.replayable:
            key = self.key or "|".join(str(environ.get(p, "")) for p in PARTS)
            environ[http.REPLAYABLE] = http.Replayable(key, frozenset({"link"}))
        environ["bulletin.route"] = "/made-up"
        start_response(self.status, headers, self.exc_info)
        return Body(self, self.chunks or [body])


class Body(list):
    """An app iterable with close(), which the server (here: the hot path) must call."""

    def __init__(self, app: App, chunks: list[bytes]):
        super().__init__(chunks)
        self.app = app

    def close(self):
        self.app.closed += 1


def environ(method: str = "GET", **parts) -> dict:
    env = {"REQUEST_METHOD": method, "wsgi.url_scheme": "http", "HTTP_HOST": "api.test", "SCRIPT_NAME": "",
           "PATH_INFO": "/v1/articles", "QUERY_STRING": "limit=2", "HTTP_ACCEPT_LANGUAGE": "en",
           "HTTP_ACCEPT_ENCODING": "gzip"}  # fmt: skip
    for name, value in parts.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def call(hot: HotPath, env: dict) -> tuple[str, list, bytes, object]:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=headers, exc_info=exc_info)

    body = b"".join(hot(env, start_response))
    return seen["status"], seen["headers"], body, seen["exc_info"]


@pytest.fixture
def hot(frozen_clock):
    frozen_clock(NOW)
    app = App()
    return HotPath(app, Store(), max_bytes=1_000_000, horizon=HORIZON), app


def test_a_second_identical_request_is_the_first_answer_replayed_without_the_app(hot):
    path, app = hot
    env = environ()
    first = call(path, env)
    assert (app.calls, path.stats()["misses"], path.stats()["hits"]) == (1, 1, 0)
    assert env["bulletin.hot_miss"] is True and "bulletin.cache" not in env  # for the request wrapper's metrics
    env = environ()
    assert call(path, env) == first and app.calls == 1 and "bulletin.hot_miss" not in env
    assert (path.stats()["hits"], path.stats()["misses"]) == (1, 1)
    assert (env["bulletin.cache"], env["bulletin.route"], env["bulletin.generation"]) == ("hot", "/made-up", "g1")


@pytest.mark.parametrize("part", PARTS)
def test_requests_that_differ_in_any_input_the_answer_depends_on_never_share_an_entry(hot, part):
    """Host, scheme and script root make the links; path, query, language and encoding the content. The app
    keys each answer by them, and a request differing in one is answered by the app, never by another's entry."""
    path, app = hot
    other = {"wsgi.url_scheme": "https", "HTTP_HOST": "evil.test", "SCRIPT_NAME": "/mounted",
             "PATH_INFO": "/v1/issues", "QUERY_STRING": "limit=3", "HTTP_ACCEPT_LANGUAGE": "ru",
             "HTTP_ACCEPT_ENCODING": "br"}[part]  # fmt: skip
    theirs = call(path, environ(**{part: other}))
    mine = call(path, environ())
    assert app.calls == 2 and other.encode() in theirs[2] and other.encode() not in mine[2]
    assert call(path, environ(**{part: other})) == theirs and call(path, environ()) == mine and app.calls == 2


@pytest.mark.parametrize("part", [p for p in PARTS if p != "wsgi.url_scheme"])
def test_an_input_left_out_is_not_the_same_request_as_one_given_as_any_text(hot, part):
    """A WSGI server may leave out a variable whose value is empty (PEP 3333), the script root and the path
    included: an absent one is the empty one, and no text a client sends stands for it."""
    path, app = hot
    absent = call(path, environ(**{part: None}))
    assert call(path, environ(**{part: ""})) == absent and app.calls == 1  # "" is the absent input's own spelling
    given = call(path, environ(**{part: "XXXX"}))
    assert b"XXXX" in given[2] and app.calls == 2
    assert call(path, environ(**{part: None})) == absent


def test_a_head_request_is_never_kept_and_a_later_get_has_its_body(hot):
    path, app = hot
    status, _, body, _ = call(path, environ("HEAD"))
    assert (status, body, path.stats()["entries"]) == ("200 OK", b"", 0)
    got = call(path, environ())
    assert got[2].startswith(b"http|api.test") and app.calls == 2
    head = call(path, environ("HEAD"))  # a HEAD after the GET: the kept headers, no body
    assert (head[0], head[1], head[2], app.calls) == ("200 OK", got[1], b"", 2)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_go_to_the_app_and_are_never_kept(hot, method):
    path, app = hot
    call(path, environ(method))
    call(path, environ(method))
    assert app.calls == 2 and path.stats()["entries"] == 0


@pytest.mark.parametrize("status", ["404 NOT FOUND", "304 NOT MODIFIED", "500 INTERNAL SERVER ERROR", "206 X"])
def test_only_a_200_the_app_marked_replayable_is_kept(hot, status):
    path, app = hot
    app.status = status
    call(path, environ())
    call(path, environ())
    assert app.calls == 2 and path.stats()["entries"] == 0
    app.status, app.replayable = "200 OK", False
    call(path, environ())
    call(path, environ())
    assert app.calls == 4 and path.stats()["entries"] == 0


def test_a_kept_answer_is_the_whole_body_and_the_app_iterable_is_closed(hot):
    path, app = hot
    app.chunks = [b"one,", b"two,", b"three"]
    first = call(path, environ())
    assert first[2] == b"one,two,three" and app.closed == 1
    assert call(path, environ())[2] == b"one,two,three" and app.calls == 1


def test_the_app_s_exc_info_reaches_the_server(hot):
    path, app = hot
    app.status, app.replayable = "500 INTERNAL SERVER ERROR", False
    try:
        raise RuntimeError("x")
    except RuntimeError as exc:
        app.exc_info = (type(exc), exc, exc.__traceback__)
    assert call(path, environ())[3] is app.exc_info


def test_conditional_requests_it_cannot_prove_go_to_the_app_and_a_matching_tag_is_a_304(hot):
    path, app = hot
    _, headers, _, _ = call(path, environ())
    etag = dict(headers)["ETag"]
    status, not_modified, body, _ = call(path, {**environ(), "HTTP_IF_NONE_MATCH": f'"other", W/{etag}'})
    assert (status, body, app.calls) == ("304 NOT MODIFIED", b"", 1)
    names = {k.lower() for k, _ in not_modified}
    assert "etag" in names and not names & {"link", "content-type", "content-length"}  # the view's own, entity ones
    assert call(path, {**environ(), "HTTP_IF_NONE_MATCH": '"other"'})[0] == "200 OK" and app.calls == 1
    for header, value in (("HTTP_IF_NONE_MATCH", "*"), ("HTTP_IF_NONE_MATCH", " * "),
                          ("HTTP_IF_MODIFIED_SINCE", "Mon, 02 Mar 2026 09:00:00 GMT")):  # fmt: skip
        calls = app.calls
        call(path, {**environ(), header: value})
        assert app.calls == calls + 1, header


def test_a_store_that_cannot_be_read_goes_to_the_app(hot):
    path, app = hot
    call(path, environ())
    path.store.generation = None
    call(path, environ())
    assert app.calls == 2


def test_a_new_content_version_is_never_answered_from_the_old_one(hot):
    path, app = hot
    call(path, environ())
    path.store.generation = Generation("g2")
    assert call(path, environ())[2].endswith(b" call 2") and app.calls == 2


@pytest.mark.parametrize("margin", [dt.timedelta(0), dt.timedelta(microseconds=1), dt.timedelta(seconds=-1)])
def test_an_answer_is_replayed_only_until_the_horizon_before_the_next_change(margin, frozen_clock):
    """Within HORIZON of an embargo end a replayed Cache-Control could let a cache hold the page past it: an answer
    is not kept when made that late, and a kept one stops being replayed then, to the microsecond."""
    change = NOW + dt.timedelta(seconds=HORIZON) + dt.timedelta(hours=1)
    until = change - dt.timedelta(seconds=HORIZON)
    app = App()
    path = HotPath(app, Store(Generation(next_change=change)), max_bytes=1_000_000, horizon=HORIZON)
    frozen_clock(NOW)
    call(path, environ())
    frozen_clock(until - margin)
    call(path, environ())
    assert app.calls == (1 if margin > dt.timedelta(0) else 2), margin
    fresh = App()
    late = HotPath(fresh, Store(Generation(next_change=change)), max_bytes=1_000_000, horizon=HORIZON)
    frozen_clock(until - margin)
    call(late, environ())
    assert late.stats()["entries"] == (1 if margin > dt.timedelta(0) else 0), margin


def test_memory_is_counted_exactly_and_bounded_least_recently_used_first(frozen_clock):
    """An entry weighs its body plus 64 bytes a header pair; a replaced entry's weight is given back; past
    max_bytes or max_entries the least recently used go first, a hit making an entry recent again; an entry over an
    eighth of the budget is never kept."""
    frozen_clock(NOW)
    app = App()
    weight = {}

    def add(path: HotPath, name: str) -> None:
        _, headers, body, _ = call(path, environ(PATH_INFO=f"/{name}"))
        weight[name] = len(body) + 64 * len(headers)

    roomy = HotPath(app, Store(), max_bytes=1_000_000, horizon=HORIZON, max_entries=3)
    for name in ("a", "b", "c"):
        add(roomy, name)
    assert roomy.stats() | {"hits": 0, "misses": 0} == {"entries": 3, "bytes": sum(weight.values()),
                                                      "hits": 0, "misses": 0}  # fmt: skip
    call(roomy, environ(PATH_INFO="/a"))  # a is recent again: b goes first
    add(roomy, "d")
    assert roomy.stats()["entries"] == 3 and roomy.stats()["bytes"] == weight["a"] + weight["c"] + weight["d"]
    calls = app.calls
    call(roomy, environ(PATH_INFO="/a"))
    call(roomy, environ(PATH_INFO="/b"))
    assert app.calls == calls + 1  # a kept, b gone
    # the same response key from another spelling replaces the entry, giving its weight back
    app.key = "one-key"
    same = HotPath(app, Store(), max_bytes=1_000_000, horizon=HORIZON)
    add(same, "x")
    add(same, "y")
    assert same.stats() == {"entries": 1, "bytes": weight["y"], "hits": 0, "misses": 2}
    app.key = None
    # bytes: entries of one weight (a 100-byte body, four headers): eight fit, a ninth pushes out the oldest
    app.chunks, size = [b"x" * 100], 100 + 64 * 4
    tight = HotPath(app, Store(), max_bytes=8 * size, horizon=HORIZON, max_entries=100)
    for n in range(9):
        add(tight, f"p{n}")
    assert tight.stats()["entries"] == 8 and tight.stats()["bytes"] == 8 * size
    calls = app.calls
    call(tight, environ(PATH_INFO="/p1"))
    call(tight, environ(PATH_INFO="/p0"))
    assert app.calls == calls + 1  # p1 kept, p0 gone
    small = HotPath(app, Store(), max_bytes=8 * size - 1, horizon=HORIZON)
    add(small, "q")
    assert small.stats()["entries"] == 0  # over an eighth of the budget
    exact = HotPath(app, Store(), max_bytes=8 * size, horizon=HORIZON)
    add(exact, "r")
    assert exact.stats()["entries"] == 1  # exactly an eighth is kept


def test_raw_spellings_are_bounded_at_four_per_entry(frozen_clock):
    """Raw request spellings (aliases) of the same answer are kept up to four times max_entries, oldest first out:
    a client cycling spellings cannot grow the worker's memory."""
    frozen_clock(NOW)
    app = App()
    app.key = "one-key"
    path = HotPath(app, Store(), max_bytes=1_000_000, horizon=HORIZON, max_entries=2)
    for n in range(9):
        call(path, environ(QUERY_STRING=f"limit=2&n={n}"))
    assert len(path._aliases) == 8
    calls = app.calls
    call(path, environ(QUERY_STRING="limit=2&n=8"))  # the newest is kept
    assert app.calls == calls
    call(path, environ(QUERY_STRING="limit=2&n=0"))  # the oldest spelling was dropped
    assert app.calls == calls + 1


def test_apps_the_hot_path_cannot_copy_pass_through_unchanged(frozen_clock):
    """A WSGI app may start its response only when iterated, or send a 200 without an ETag: each is passed through
    as it came, and none is kept. One that returns a plain list, without close(), is kept like any other."""
    frozen_clock(NOW)

    def lazy(environ, start_response):
        environ[http.REPLAYABLE] = http.Replayable("k", frozenset())

        def body():
            start_response("200 OK", [("ETag", '"e"')])
            yield b"late "
            yield b"start"

        return body()

    def untagged(environ, start_response):
        environ[http.REPLAYABLE] = http.Replayable("k", frozenset())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"no tag"]

    def plain(environ, start_response):
        environ[http.REPLAYABLE] = http.Replayable("k", frozenset())
        start_response("200 OK", [("ETag", '"p"')])
        return [b"plain"]

    for app, body in ((lazy, b"late start"), (untagged, b"no tag")):
        path = HotPath(app, Store(), max_bytes=1_000_000, horizon=HORIZON)
        for _ in range(2):
            assert call(path, environ())[2] == body
        assert path.stats()["entries"] == 0, app
    path = HotPath(plain, Store(), max_bytes=1_000_000, horizon=HORIZON)
    assert call(path, environ())[2] == b"plain" and call(path, environ())[2] == b"plain"
    assert path.stats() == {"entries": 1, "bytes": len(b"plain") + 64, "hits": 1, "misses": 1}


def test_the_entry_bound_is_the_documented_one():
    assert HotPath(App(), Store(), max_bytes=1, horizon=1).max_entries == 20_000  # docs/performance.md
