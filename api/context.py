"""The request context: what the endpoint wrapper decided about one request, passed explicitly to the view.

Built once by api.http.cached_endpoint, after validation; views and the helpers they call read the time, the store
generation, the language, the base URL and the validated arguments from it, never from Flask's `g` or the WSGI
environ. No Flask here: anything below the view can take one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from api.signing import Signer
from api.store.db import Generation


@dataclass
class RequestContext:
    now: dt.datetime
    generation: Generation
    content_key: str  # generation + embargo epoch at `now`: the visible-content version every cache key carries
    lang: str  # the negotiated response language
    base: str  # the absolute API root of every link (PUBLIC_BASE_URL, else the request's scheme and host)
    path: str
    args: dict  # the validated query arguments
    query: dict[str, str]  # the raw query parameters (one value each), to link to this request with changes
    signer: Signer
    _encoded: dict[str, str] | None = field(default=None, repr=False)

    @property
    def format(self) -> str | None:
        """The article body format asked for (None: the default)."""
        return self.args.get("format")

    def url(self, **changes) -> str:
        """This request's URL with some query parameters replaced (None removes one), parameters in sorted order.

        The request's own parameters are encoded once (a collection links to itself, its first, next and previous
        page); only the changed ones are encoded per call.
        """
        if self._encoded is None:
            self._encoded = {k: urlencode({k: v}) for k, v in self.query.items()}
        pairs = dict(self._encoded)
        for k, v in changes.items():
            if v is None:
                pairs.pop(k, None)
            else:
                pairs[k] = urlencode({k: str(v)})
        query = "&".join(pairs[k] for k in sorted(pairs))
        return f"{self.base}{self.path}" + (f"?{query}" if query else "")
