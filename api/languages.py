"""Accept-Language negotiation (RFC 9110 §12.5.4, RFC 4647 lookup) over the languages the API serves."""

from __future__ import annotations

import re

from schemas.args import LANGUAGES

DEFAULT = "en"
_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _ranges(header: str) -> list[tuple[float, int, str]]:
    """(q, position, range) of each well-formed language range; malformed ones are ignored."""
    out = []
    for position, part in enumerate(header.split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        if not _RANGE.fullmatch(tag):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.fullmatch(value) else -1.0
        if q >= 0:
            out.append((q, position, tag.lower()))
    return out


def negotiate(header: str | None, supported: tuple[str, ...] = LANGUAGES, default: str = DEFAULT) -> str:
    """The supported language the client prefers most; `default` when it names none of them.

    Ranges are tried by falling q (ties in the client's order); a range matches a language when the
    language is its primary subtag (`be-BY` is Belarusian, never Russian). `q=0` refuses a language,
    also against `*`, which stands for any language not named otherwise.
    """
    if not header:
        return default
    ranges = _ranges(header)
    named = {tag.split("-")[0] for _, _, tag in ranges if tag != "*"}
    refused = {tag.split("-")[0] for q, _, tag in ranges if q == 0 and tag != "*"}
    for q, _, tag in sorted(ranges, key=lambda r: (-r[0], r[1])):
        if q == 0:
            break
        if tag == "*":
            free = [lang for lang in (default, *supported) if lang not in named and lang not in refused]
            if free:
                return free[0]
            continue
        primary = tag.split("-")[0]
        if primary in supported and primary not in refused:
            return primary
    return default
