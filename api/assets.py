"""Static assets (api/static): fingerprinted URLs, precompressed bodies, cached for a year.

Each file is served at /assets/<path with its content hash before the extension> (reader/reader.3f9c0a1b2d.js):
a changed file has a new URL, so a response can be `immutable` for a year. The bodies, their gzip and brotli
forms are prepared once per process, when the first app is created (about 0.3 s, most of it the 1.7 MB Swagger
bundle), and kept in memory; a request gets the smallest form its Accept-Encoding allows. /favicon.ico answers the icon for
clients that ask there without reading the pages' <link rel="icon">.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

import brotli
from flask import Flask, Response, request

from api.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
FAVICON = "favicon.svg"
COMPRESSIBLE = (".js", ".css", ".svg", ".txt", ".json", ".html", "LICENSE", "NOTICE")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True)
class Asset:
    name: str  # path under api/static
    hashed: str  # the fingerprinted path served under /assets/
    mimetype: str
    etag: str
    bodies: dict  # content coding ("identity", "br", "gzip") -> bytes, only the codings that save bytes


def _fingerprinted(name: str, digest: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{name}.{digest}"


def _prepare(path: Path, root: Path) -> Asset:
    data = path.read_bytes()
    name = path.relative_to(root).as_posix()
    digest = hashlib.blake2b(data, digest_size=5).hexdigest()
    bodies = {"identity": data}
    if name.endswith(COMPRESSIBLE) and len(data) > 256:
        for coding, packed in (("br", brotli.compress(data, quality=9)), ("gzip", gzip.compress(data, 9, mtime=0))):
            if len(packed) < len(data):
                bodies[coding] = packed
    mimetype = mimetypes.guess_type(name)[0] or "text/plain"
    return Asset(name, _fingerprinted(name, digest), mimetype, f'"{digest}"', bodies)


class Manifest:
    """Every file under api/static, prepared once per process (thread-safe), by name and by fingerprinted path."""

    def __init__(self, root: Path = STATIC):
        self.root = root
        self._lock = threading.Lock()
        self._by_name: dict[str, Asset] | None = None
        self._by_hashed: dict[str, Asset] = {}

    def _load(self) -> dict[str, Asset]:
        with self._lock:
            if self._by_name is None:
                assets = [_prepare(p, self.root) for p in sorted(self.root.rglob("*")) if p.is_file()]
                self._by_hashed = {a.hashed: a for a in assets}
                self._by_name = {a.name: a for a in assets}
        return self._by_name

    def url(self, name: str) -> str:
        """The fingerprinted URL path of api/static/<name>."""
        return f"/assets/{self._load()[name].hashed}"

    def by_hashed(self, hashed: str) -> Asset | None:
        self._load()
        return self._by_hashed.get(hashed)

    def named(self, name: str) -> Asset:
        return self._load()[name]


MANIFEST = Manifest()


def asset_url(name: str) -> str:
    return MANIFEST.url(name)


def _respond(asset: Asset, cache_control: str) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match", "").strip() in (asset.etag, f"W/{asset.etag}", "*"):
        return Response(status=304, headers=headers)
    accept = request.accept_encodings
    coding = next((c for c in ("br", "gzip") if c in asset.bodies and accept[c]), "identity")
    resp = Response(asset.bodies[coding], mimetype=asset.mimetype, headers=headers)
    if coding != "identity":
        resp.headers["Content-Encoding"] = coding
    return resp


def serve(filename: str) -> Response:
    """An asset by its fingerprinted path; an unknown or stale fingerprint is a 404 (never another version)."""
    if filename == "favicon.ico":  # not fingerprinted: a day, then revalidated
        return _respond(MANIFEST.named(FAVICON), "public, max-age=86400")
    asset = MANIFEST.by_hashed(filename)
    if asset is None:
        raise NotFound(f"No asset '{filename[:100]}'.")
    return _respond(asset, IMMUTABLE)


def init_app(app: Flask) -> None:
    """Register the asset routes under the `static` endpoint (what the OpenAPI document and the suites skip)."""
    app.add_url_rule("/assets/<path:filename>", endpoint="static", view_func=serve)
    app.add_url_rule("/favicon.ico", endpoint="static", view_func=serve, defaults={"filename": "favicon.ico"})
    MANIFEST.named(FAVICON)  # compress every asset now, not in the first request that needs one
