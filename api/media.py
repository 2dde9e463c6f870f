"""Images of the archive: renditions under content-addressed URLs, served while an article showing them is public.

Beside api/assets.py rather than among the resources: it answers bytes with their own validator, not a cached JSON
view (it reads If-None-Match itself, and asks the store, through api.store.queries, whether an article shows it)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, request

from api import clock
from api.http import etag_matches
from api.problems import NotFound
from api.store import queries

bp = Blueprint("media", __name__)

#: `<hash>-<width>.<ext>` (api/ingest/media.py media_url); anything else is no image of ours.
NAME = re.compile(r"^([0-9a-f]{20})-([1-9][0-9]{0,4})\.(webp|jpg|png|gif)$")
#: A URL names its bytes for ever: a changed image has another hash, so caches may keep a rendition for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.get("/media/<name>")
def rendition(name: str):
    """One rendition of an image; a 404, as for a missing one, unless an article showing it is public now."""
    found = NAME.match(name)
    if found is None:
        raise NotFound("No such image.")
    digest, width, ext = found.group(1), int(found.group(2)), found.group(3)
    store = current_app.extensions["store"]
    with store.session(store.current()) as session:
        # Visibility first, for a conditional request too: a tag proves nothing once the article is hidden.
        shown = queries.public_rendition(session, clock.now(), digest, width, ext)
        if shown is None:
            raise NotFound("No such image.")
        media_type, etag = shown
        headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
        if etag_matches(request.headers.get("If-None-Match"), etag):
            return Response(status=304, headers=headers)
        data = queries.rendition_bytes(session, digest, width, ext)
    return Response(data, mimetype=media_type, headers=headers)
