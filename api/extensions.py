"""Unbound extensions, bound to an app by create_app()."""

from flask_caching import Cache
from flask_caching.backends.simplecache import SimpleCache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

cache = Cache()


def new_limiter() -> Limiter:
    """One Limiter per app: Flask-Limiter keeps its storage and default limits on the instance, so a module-level
    one let the first app fix the limits and the last app's storage serve every app of the process."""
    return Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


class BoundedSimpleCache(SimpleCache):
    """Flask-Caching's in-process SimpleCache with constant-time pruning.

    cachelib's SimpleCache prunes on every `set` once it holds `threshold` entries by scanning all of them for
    expired ones and then sorting them all by expiry: with 5 000 entries every cache-miss response paid a few
    milliseconds for it. Here the oldest-inserted entries go first (dicts keep insertion order); an expired
    entry is still never served (`get` checks its expiry) and is dropped when read or when its turn comes.
    """

    def _prune(self) -> None:
        while len(self._cache) >= self._threshold:
            self._cache.pop(next(iter(self._cache)), None)
