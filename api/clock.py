"""The one clock of the service: embargo checks read it, tests freeze it."""

from __future__ import annotations

import datetime as dt

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current time, aware UTC (or the frozen time in tests)."""
    return _frozen or dt.datetime.now(dt.UTC)


def freeze(at: dt.datetime | None) -> None:
    """Freeze the clock at `at` (aware), or unfreeze with None."""
    global _frozen
    _frozen = at
