"""Collection totals are computed once per generation and filter set (api.http.per_generation), on both backends."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.conftest import make_app, recorded_statements

EMBARGO_END = dt.datetime(2099, 1, 1, 9, 0, tzinfo=dt.UTC)


def test_total_is_counted_once_per_filter_set(loaded):
    app = make_app(loaded, HOT_CACHE_MAX_BYTES=0)
    client = app.test_client()
    # A filter set of this run alone: on PostgreSQL the counts live in the shared Redis, where other tests (and
    # other runs of the same code and archive) may have counted `section=economy` already.
    since = f"updated_since=2000-01-01T00:00:00.{uuid.uuid4().int % 10**9:09d}Z"
    with recorded_statements(app, "count(") as seen:
        first = client.get(f"/v1/articles?section=economy&{since}&limit=2").get_json()
        assert len(seen) == 1
        # Another page size and shape of the same filters: a new response, the same total, no new count.
        again = client.get(f"/v1/articles?section=economy&{since}&limit=3&fields=title").get_json()
        walked = client.get(first["links"]["next"].replace("http://localhost", "")).get_json()
        assert len(seen) == 1
        assert again["meta"]["total"] == walked["meta"]["total"] == first["meta"]["total"] == 5
        client.get(f"/v1/articles?section=economy,security-issues&{since}&limit=2")
        assert len(seen) == 2
    app.extensions["store"].dispose()


def test_total_follows_the_embargo_epoch(loaded, frozen_clock):
    app = make_app(loaded, HOT_CACHE_MAX_BYTES=0)
    client = app.test_client()
    frozen_clock(EMBARGO_END - dt.timedelta(seconds=1))
    before = client.get("/v1/articles?limit=1").get_json()["meta"]["total"]
    assert client.get("/v1/articles?limit=2").get_json()["meta"]["total"] == before
    frozen_clock(EMBARGO_END)
    assert client.get("/v1/articles?limit=2").get_json()["meta"]["total"] == before + 1
    app.extensions["store"].dispose()


def test_the_embedded_response_cache_stays_bounded_and_keeps_the_newest_entries():
    """BoundedSimpleCache (the default without Redis) drops the oldest entries first, one per insertion once full,
    instead of cachelib's scan and sort of every entry on every set; an expired entry is never served."""
    from api.extensions import BoundedSimpleCache

    cache = BoundedSimpleCache(threshold=100, default_timeout=300)
    for i in range(1000):
        cache.set(f"k{i}", i)
        assert len(cache._cache) <= 100
    assert [cache.get(f"k{i}") for i in (0, 899, 900, 999)] == [None, None, 900, 999]
    cache.set("short", "x", timeout=1)
    cache._cache["short"] = (1, cache._cache["short"][1])  # expired long ago
    assert cache.get("short") is None


def test_a_known_total_costs_no_cache_round_trip(loaded, new_app, monkeypatch):
    """A list page whose total the process has used is one response-cache lookup and one write: the total comes from
    the app's own front (api.http.Values), which a second app (another process) does not share; that one reads the
    shared cache once (a hit on Redis, where both apps' caches are the same), then keeps it too."""
    from api import http

    reads = []
    get = http.response_cache.get
    monkeypatch.setattr(http.response_cache, "get", lambda key: reads.append(key.split(":")[0]) or get(key))
    since = f"updated_since=2000-01-01T00:00:00.{uuid.uuid4().int % 10**9:09d}Z"
    first, other = new_app(loaded, HOT_CACHE_MAX_BYTES=0), new_app(loaded, HOT_CACHE_MAX_BYTES=0)
    with recorded_statements(first, "count(") as counted:
        assert first.test_client().get(f"/v1/articles?section=economy&{since}&limit=2").status_code == 200
        assert reads == ["response", "count"] and len(counted) == 1
        for shape in ("title", "slug", "title,slug"):
            reads.clear()
            resp = first.test_client().get(f"/v1/articles?section=economy&{since}&limit=2&fields={shape}")
            assert resp.get_json()["meta"]["total"] == 5
            assert reads == ["response"], shape
        assert len(counted) == 1
    reads.clear()
    assert other.test_client().get(f"/v1/articles?section=economy&{since}&limit=3").get_json()["meta"]["total"] == 5
    assert reads == ["response", "count"]
    reads.clear()
    other.test_client().get(f"/v1/articles?section=economy&{since}&limit=4")
    assert reads == ["response"]


def test_the_front_of_per_generation_values_is_bounded_and_keeps_the_newest():
    from api.http import Values

    front = Values(entries=3)
    for i in range(10):
        front.put(f"k{i}", i)
        assert len(front) <= 3
    assert front.get("k7") == 7  # used: now the newest
    front.put("k10", 10)
    assert [front.get(f"k{i}") for i in (6, 7, 8, 9, 10)] == [None, 7, None, 9, 10]


def test_the_front_bounds_the_elements_of_list_values_too():
    """A feed's archive weeks are one list element per week: long lists take the room of many values, so many filter
    sets of a long archive cannot hold a worker's memory; a list longer than the whole bound is not kept."""
    from api.http import Values

    front = Values(entries=100, items=10)
    front.put("count", 1)
    front.put("weeks-a", ["w"] * 8)  # 1 + (1 + 8) = 10 items: all kept
    assert [front.get("count"), len(front.get("weeks-a"))] == [1, 8]
    front.put("weeks-b", ["w"] * 3)  # 14 items: the least recently used go until 10 or fewer remain
    assert front.get("count") is None and front.get("weeks-a") is None and front.get("weeks-b") == ["w"] * 3
    front.put("weeks-b", ("w",))  # a key put again counts once, with its new length
    front.put("weeks-c", ["w"] * 7)  # 2 + 8 = 10
    assert front.get("weeks-b") == ("w",) and len(front.get("weeks-c")) == 7
    front.put("huge", ["w"] * 10)  # 11 items alone: never kept, and nothing is dropped for it
    assert front.get("huge") is None and front.get("weeks-b") == ("w",) and len(front) == 2
    front.clear()
    front.put("weeks-d", ["w"] * 9)
    assert len(front.get("weeks-d")) == 9
