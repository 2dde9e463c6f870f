"""Conditional requests, freshness and cache keys as properties (Hypothesis), on both backends, over one small
generated archive (tests/test_rules.py holds the same conditional property over the sample archive):

- RFC 9110 §13.2.2 precedence for every combination of If-None-Match, If-Modified-Since and Accept-Language;
- Cache-Control: both lifetimes capped by the seconds until the next embargo ends, at any clock time;
- cache keys: two keys are equal exactly when their kind and every named part are equal, types included
  (`1`, `1.0`, `True` and `"1"` differ; a list equals the tuple of its items; sets and dicts ignore order).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api import clock
from api.keys import cache_key, canonical
from tests.test_rules import BASE, MUTATION_TESTING, WEEKS, Doc, check_conditional, conditions, served

PROPERTY = settings(
    max_examples=40 if MUTATION_TESTING else 150,
    deadline=None,
    report_multiple_bugs=not MUTATION_TESTING,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
URLS = ("/v1/articles?limit=2", "/v1/sections", f"/v1/issues/{WEEKS[3]}", "/v1/articles/no-such-article")
EMBARGO_ENDS = [BASE + dt.timedelta(hours=1), BASE + dt.timedelta(days=2)]


@pytest.fixture(params=["hot", "flask"])
def client(request, backend, tmp_path):
    """The small archive served with the hot path (api/hot.py: it replays what it has seen, 304s included) or
    without it (HOT_CACHE_MAX_BYTES=0: every request takes cached_endpoint's path)."""
    settings_ = backend if request.param == "hot" else {**backend, "HOT_CACHE_MAX_BYTES": 0}
    docs = [
        Doc(0, week=WEEKS[3], section="economy", trend="worse"),
        Doc(1, week=WEEKS[3], section="economy", lang="ru", embargo=EMBARGO_ENDS[0]),
        Doc(2, week=WEEKS[4], section="ruling-elite", embargo=EMBARGO_ENDS[1]),
    ]
    with served(settings_, tmp_path, docs) as client:
        clock.freeze(BASE)
        yield client


@PROPERTY
@given(case=conditions(URLS))
@example(case=("other-lang", "after", "ru", "en", URLS[0]))
@example(case=("garbage", "equal", "en", "en", URLS[1]))
@example(case=("current", None, None, "en", URLS[2]))
@example(case=("*", None, "ru", "en", URLS[3]))
@example(case=("*", None, "ru", "en", URLS[0]))
@example(case=(None, "equal", "be", "en", URLS[0]))
@example(case=(None, "before", "en", "en", URLS[0]))
@example(case=(None, "garbage", "en", "en", URLS[0]))  # an invalid date is ignored
def test_conditional_requests_follow_rfc_9110_precedence(client, case):
    check_conditional(client, case)


#: the three formats of an HTTP-date (RFC 9110 5.6.7), all in GMT
DATE_FORMATS = {
    "imf": "%a, %d %b %Y %H:%M:%S GMT",
    "rfc850": "%A, %d-%b-%y %H:%M:%S GMT",
    "asctime": "%a %b %d %H:%M:%S %Y",
}


@PROPERTY
@given(offset=st.integers(-90, 90), form=st.sampled_from(sorted(DATE_FORMATS)), url=st.sampled_from(URLS[:3]))
@example(offset=0, form="asctime", url=URLS[0])
@example(offset=-1, form="asctime", url=URLS[0])
@example(offset=-60, form="imf", url=URLS[1])
@example(offset=30, form="rfc850", url=URLS[2])
def test_if_modified_since_in_every_http_date_format(client, offset, form, url):
    """A 304 exactly when the date is at or after Last-Modified, whichever of the three formats names it."""
    plain = client.get(url)
    modified = email.utils.parsedate_to_datetime(plain.headers["Last-Modified"])
    since = (modified + dt.timedelta(seconds=offset)).strftime(DATE_FORMATS[form])
    resp = client.get(url, headers={"If-Modified-Since": since})
    assert resp.status_code == (304 if offset >= 0 else 200), since
    assert resp.headers["ETag"] == plain.headers["ETag"]


@PROPERTY
@given(seconds=st.integers(-3 * 86400, 3 * 86400), url=st.sampled_from(URLS[:3]))
@example(seconds=3599, url=URLS[0])
@example(seconds=3600, url=URLS[0])
@example(seconds=0, url=URLS[1])
@example(seconds=3599.5, url=URLS[2])  # half a second left: no lifetime at all
def test_no_cache_holds_a_page_past_an_embargo(client, seconds, url):
    now = BASE + dt.timedelta(seconds=seconds)
    clock.freeze(now)
    config = client.application.config
    pending = [e for e in EMBARGO_ENDS if e > now]
    cap = int((min(pending) - now).total_seconds()) if pending else None
    max_age = config["CACHE_MAX_AGE"] if cap is None else min(config["CACHE_MAX_AGE"], cap)
    s_maxage = config["CACHE_S_MAXAGE"] if cap is None else min(config["CACHE_S_MAXAGE"], cap)
    expected = (
        f"public, max-age={max_age}, s-maxage={s_maxage}, "
        f"stale-while-revalidate={config['CACHE_STALE_WHILE_REVALIDATE']}, "
        f"stale-if-error={config['CACHE_STALE_IF_ERROR']}"
    )
    assert client.get(url).headers["Cache-Control"] == expected, now


def same(a, b) -> bool:
    """Equal values of equal types (a list and a tuple of equal items are one value)."""
    seq = (list, tuple)
    if isinstance(a, seq) and isinstance(b, seq):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):  # keys of equal types too: {1: v} == {True: v} == {1.0: v} in Python, not here
        return len(a) == len(b) and all(any(same(k, j) and same(a[k], b[j]) for j in b) for k in a)
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, set):
        return len(a) == len(b) and all(any(same(x, y) for y in b) for x in a)
    return a == b


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, -1.5, 2.5])
    | st.sampled_from(["", "1", "0", "a", "True", "2022-02-14", "2022-02-14T00:00:00+00:00"])
    | st.sampled_from([dt.date(2022, 2, 14), dt.date(2022, 2, 21)])
    | st.sampled_from([dt.datetime(2022, 2, 14, tzinfo=dt.UTC), dt.datetime(2022, 2, 14, 1, tzinfo=dt.UTC)])
)
NESTED = SCALARS | st.lists(SCALARS, max_size=3) | st.lists(SCALARS, max_size=3).map(tuple)
#: dict keys of mixed types (a part is validated arguments, keyed by name, but the rule holds for any key)
KEYS = st.sampled_from(["a", "b", "1", 1, 2, None, dt.date(2022, 2, 14)])
VALUES = NESTED | st.lists(NESTED, max_size=2) | st.dictionaries(KEYS, NESTED, max_size=3)


@settings(max_examples=100 if MUTATION_TESTING else 400, deadline=None, report_multiple_bugs=not MUTATION_TESTING)
@given(a=VALUES, b=VALUES, same_value=st.booleans())
@example(a=1, b=True, same_value=False)
@example(a=1, b=1.0, same_value=False)
@example(a=1, b="1", same_value=False)
@example(a=0, b=False, same_value=False)
@example(a="2022-02-14", b=dt.date(2022, 2, 14), same_value=False)
@example(a=dt.date(2022, 2, 14), b=dt.datetime(2022, 2, 14, tzinfo=dt.UTC), same_value=False)
@example(a=[1, 2], b=(1, 2), same_value=False)
@example(a=[1, 2], b=[2, 1], same_value=False)
@example(a=[], b={}, same_value=False)
@example(a=None, b="", same_value=False)
@example(a={"a": 1, "b": 2}, b={"b": 2, "a": 1}, same_value=False)
@example(a=1.0, b=2.5, same_value=False)
@example(a={1, "a"}, b={1, "b"}, same_value=False)
@example(a={1, "a"}, b={"a", 1}, same_value=False)
@example(a={"a": 1}, b={"a": 2}, same_value=False)
@example(a={1: "x"}, b={"1": "x"}, same_value=False)
@example(a={1: "x", "1": "y"}, b={"1": "y", 1: "x"}, same_value=False)
@example(a={None: 1, "a": 2}, b={"a": 2, None: 1}, same_value=False)
@example(a=dt.datetime(2022, 2, 14, tzinfo=dt.UTC), b=dt.datetime(2022, 2, 14, 1, tzinfo=dt.UTC), same_value=False)
@example(a=dt.date(2022, 2, 14), b=dt.date(2022, 2, 21), same_value=False)
def test_cache_keys_are_equal_exactly_when_their_parts_are(a, b, same_value):
    if same_value:
        b = a
    assert (cache_key("response", part=a, other=1) == cache_key("response", part=b, other=1)) == same(a, b), (a, b)
    assert cache_key("response", part=a) != cache_key("count", part=a)  # the kind is part of the key
    assert cache_key("response", part=a) != cache_key("response", other=a)  # so are the names
    assert cache_key("response", part=a).startswith("response:")


@given(items=st.lists(st.sampled_from([1, "1", "a", 2, None]), max_size=4), seed=st.randoms())
def test_cache_keys_ignore_the_order_of_sets(items, seed):
    shuffled = list(items)
    seed.shuffle(shuffled)
    assert canonical(set(items)) == canonical(frozenset(shuffled))
    assert cache_key("k", s=set(items)) == cache_key("k", s=set(shuffled))


@pytest.mark.parametrize(
    ("value", "name"),
    [(object(), "object"), (b"1", "bytes"), (Decimal("1.5"), "Decimal"), ({"a": [1, {2j}]}, "complex")],
)
def test_a_value_without_a_canonical_form_is_refused_by_its_type(value, name):
    """Only validated values make keys: anything else is a TypeError that names its type, never a key that some
    other value could share."""
    with pytest.raises(TypeError, match=f"^no canonical form for {name}$"):
        cache_key("k", part=value)
