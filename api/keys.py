"""The one cache-key function: every cache layer keys its entries with `cache_key`, over validated values only.

A key is a digest of a canonical, type-tagged JSON encoding of its named parts, so two keys are equal exactly
when every part is equal: `q="budget&section=economy"` and `{q: "budget", section: ["economy"]}` are different
values and give different keys (a key assembled by joining `k=v` pairs could not tell them apart). Parts are
validated arguments (the output of the query-argument schema), never raw query text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import orjson


def _code_version() -> str:
    """A digest of the code that shapes responses: a deploy must not be served bodies cached by the previous one
    (the store generation is a content digest, so it alone survives a code change in a shared Redis), nor a page
    naming an asset by a hash that changed."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=6)
    # api/static too: the pages name their assets by content hash, so a changed asset changes the pages
    static = [p for p in root.glob("api/static/**/*") if p.is_file()]
    for path in sorted([*root.glob("api/**/*.py"), *root.glob("schemas/**/*.py"), *static]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_VERSION = _code_version()


def canonical(value: Any) -> Any:
    """`value` as JSON with its type kept: ["s", "2022-02-14"] and ["d", "2022-02-14"] differ, dicts and sets sorted."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, int):
        return ["i", str(value)]  # as text: JSON integers past 64 bits are not portable
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, dt.datetime):
        return ["t", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, (list, tuple)):
        return ["l", [canonical(v) for v in value]]
    if isinstance(value, (set, frozenset)):
        return ["l", sorted((canonical(v) for v in value), key=orjson.dumps)]
    if isinstance(value, dict):
        # keys tagged like values ({1: v} and {"1": v} differ), sorted by their encoding, so any key types mix
        return ["m", sorted(([canonical(k), canonical(v)] for k, v in value.items()), key=orjson.dumps)]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def encode(kind: str, parts: dict) -> bytes:
    """The canonical bytes of a key: kind, code version and the sorted named parts."""
    return orjson.dumps([kind, CODE_VERSION, canonical(parts)])


def cache_key(kind: str, **parts: Any) -> str:
    """The key of one cached value: `kind` (response, count, weeks…) and the parts that shape it, by name.

    The response cache passes the content version (generation and embargo epoch), path, validated arguments,
    negotiated language and base URL; a per-generation value passes the content version and its own inputs.
    """
    return f"{kind}:" + hashlib.blake2b(encode(kind, parts), digest_size=20).hexdigest()
