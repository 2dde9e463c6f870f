"""Unbound extensions, bound to an app by create_app()."""

from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

cache = Cache()


def new_limiter() -> Limiter:
    """One Limiter per app: Flask-Limiter keeps its storage and default limits on the instance, so a module-level
    one let the first app fix the limits and the last app's storage serve every app of the process."""
    return Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
