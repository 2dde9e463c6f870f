"""The response cache keeps one entry per response: its body and the encodings clients asked for, so a request is one
lookup whatever its Accept-Encoding, and a new response (or a new encoding of one) is one write."""

from __future__ import annotations

import gzip

import brotli

from api import http


def test_a_response_and_its_encodings_are_one_cache_entry(loaded, new_app, monkeypatch):
    app = new_app(loaded, HOT_CACHE_MAX_BYTES=0)  # every request reaches the response cache
    reads, writes = [], []
    get, put = http.response_cache.get, http.response_cache.set
    monkeypatch.setattr(http.response_cache, "get", lambda key: reads.append(key) or get(key))
    monkeypatch.setattr(http.response_cache, "set", lambda key, value: writes.append(key) or put(key, value))
    client = app.test_client()
    url = "/v1/articles?limit=17&fields=lead,title,url"

    def fetch(encoding: str):
        reads.clear(), writes.clear()
        resp = client.get(url, headers={"Accept-Encoding": encoding})
        assert resp.status_code == 200
        return resp, [k for k in reads if not k.startswith(("count:", "weeks:"))], writes[:]

    first, looked, wrote = fetch("br")
    assert first.headers["Content-Encoding"] == "br"
    assert len(looked) == 1 and looked[0].startswith("response:")
    assert [k for k in wrote if not k.startswith("count:")] == looked, "a new response is one write, body and br"
    plain = brotli.decompress(first.get_data())
    assert len(plain) > http.COMPRESS_MIN_BYTES

    again, looked_again, wrote_again = fetch("br")
    assert looked_again == looked and wrote_again == [], "a hit in a kept encoding writes nothing"
    assert again.get_data() == first.get_data()

    zipped, looked_gzip, wrote_gzip = fetch("gzip")
    assert looked_gzip == looked and wrote_gzip == looked, "a new encoding rewrites the one entry"
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.get_data()) == plain

    identity, _, wrote_identity = fetch("identity")
    assert "Content-Encoding" not in identity.headers and identity.get_data() == plain and wrote_identity == []
