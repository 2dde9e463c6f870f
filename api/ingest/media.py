"""Images of the archive: every reference checked, measured with Pillow and rendered at a few widths, once a load.

A document names an image by a path relative to its own file (`../media/chart.png`, as a Markdown preview would
resolve it), as its lead image (front matter `image`) or inline (`![alt](../media/chart.png)`). The file must lie
in the archive's `media/` directory (a symbolic link only to a regular file there), be a JPEG, PNG, WebP or
(still) GIF whose content matches its extension, and stay within MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS (the pixel
bound is read from the header, before anything is decoded: a decompression bomb is refused unopened). Each image
is decoded once per load, whatever the number of documents naming it, into renditions: RENDITION_WIDTHS narrower
than the image and the image's own width (capped at the widest), never upscaled, each in WebP and in the image's
own format. A rendition is served under `/media/<hash>-<width>.<ext>`, `hash` naming the source bytes and the
rendition rules (RENDITION_VERSION), so a URL never changes meaning.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from api.ingest.records import ArchiveError
from api.ingest.walk import MEDIA_DIR, read_archive_file

# A news photograph or chart is well under 1 MB; 8 MiB leaves room for a large original while bounding what one
# file can cost the loader (its bytes are read whole, once).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
# 40 megapixels (an 8000 × 5000 photograph) decode to 160 MB of RGBA at most: the bound of one decode.
MAX_IMAGE_PIXELS = 40_000_000
RENDITION_WIDTHS = (320, 640, 1280)
RENDITION_VERSION = "2"  # part of every hash: bump when encoders or settings change what a rendition holds
#: Pillow format -> (extension, media type); the order is the documented one.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp"),
           "GIF": ("gif", "image/gif")}  # fmt: skip
EXTENSIONS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}
MEDIA_TYPES = {ext: mime for ext, mime in FORMATS.values()}
ALLOWED = "JPEG, PNG, WebP, GIF"


class MediaError(Exception):
    """An image reference that cannot be served; the message is the reason (the caller adds `path:line`)."""


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    ext: str
    data: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.ext]


@dataclass(frozen=True)
class Picture:
    """A checked image: its content hash, size (as displayed: EXIF orientation applied) and renditions."""

    hash: str
    width: int
    height: int
    format: str
    renditions: tuple[Rendition, ...]

    def described(self, alt: str) -> dict:
        """What the API says of it (URLs relative to the API root; the web layer makes them absolute): the largest
        rendition in the image's own format as `url`, and every rendition, smallest first, for a `srcset`."""
        own = FORMATS[self.format][0]
        top = max((r for r in self.renditions if r.ext == own), key=lambda r: r.width)
        return {
            "url": media_url(self.hash, top.width, own),
            "width": top.width,
            "height": top.height,
            "alt": alt,
            "renditions": [
                {
                    "url": media_url(self.hash, r.width, r.ext),
                    "width": r.width,
                    "height": r.height,
                    "type": r.media_type,
                }
                for r in sorted(self.renditions, key=lambda r: (r.width, r.ext != "webp"))
            ],  # fmt: skip
        }


def media_url(digest: str, width: int, ext: str) -> str:
    return f"/media/{digest}-{width}.{ext}"


def media_hash(url: str) -> str:
    """The image hash a media URL (media_url) names."""
    return url.rsplit("/", 1)[-1].rsplit("-", 1)[0]


def is_local(src: str) -> bool:
    """A reference to a file of the archive (no scheme, no host), not a link to the web."""
    parts = urlsplit(src)
    return not parts.scheme and not parts.netloc and not src.startswith("//")


def rendition_widths(width: int) -> list[int]:
    """The widths rendered for an image `width` pixels wide: never wider than the image itself."""
    return sorted({w for w in RENDITION_WIDTHS if w < width} | {min(width, RENDITION_WIDTHS[-1])})


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "WEBP":
        lossless = image.mode in ("P", "L", "LA", "1") or image.info.get("lossless")
        image.save(out, "WEBP", quality=80, method=4, lossless=bool(lossless))
    elif fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=82, optimize=True, progressive=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:  # GIF: a palette image
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF", optimize=True)
    return out.getvalue()


def render(data: bytes, digest: str) -> Picture:
    """Decode checked bytes once and render them (MediaError when they do not decode)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                fmt = opened.format
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise MediaError(
                        f"{opened.width} × {opened.height} pixels, over the {MAX_IMAGE_PIXELS}-pixel limit of an "
                        "image (refused unopened: a decompression bomb, or far larger than a page needs)"
                    )
                if getattr(opened, "n_frames", 1) > 1:
                    raise MediaError(f"an animated {fmt} image (refused: only still images are served)")
                opened.load()
                image = ImageOps.exif_transpose(opened)
        except MediaError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MediaError(f"a damaged {fmt or 'image'} file (cannot be decoded: {str(exc)[:120]})") from None
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    formats = ("WEBP",) if fmt == "WEBP" else (fmt, "WEBP")
    renditions = []
    source = image
    for width in reversed(rendition_widths(image.width)):  # widest first: each is resized from the one before,
        height = max(1, round(image.height * width / image.width))  # at most 2× larger (a third of the work)
        sized = source if width == source.width else _resized(source, width, height)
        renditions[:0] = [Rendition(width, height, FORMATS[f][0], _encode(sized, f)) for f in formats]
        source = sized
    return Picture(digest, image.width, image.height, fmt, tuple(renditions))


def _resized(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.mode != "P":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    # A palette image (a chart, a diagram) resamples in full colour, then goes back to a palette: smaller files,
    # and WebP keeps it lossless.
    full = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return full.resize((width, height), Image.Resampling.LANCZOS).quantize(colors=256, method=Image.Quantize.FASTOCTREE)


def check(data: bytes, name: str) -> str:
    """The format of an image's bytes, checked against its name and the limits, without decoding pixels."""
    if len(data) > MAX_IMAGE_BYTES:
        raise MediaError(f"{len(data)} bytes, over the {MAX_IMAGE_BYTES}-byte limit of an image (refused)")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise MediaError(f"not an image of an allowed type ({ALLOWED}): {suffix or 'no extension'}")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            fmt = opened.format
    except UnidentifiedImageError:
        raise MediaError(f"not an image (its content is no {ALLOWED} file)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"a damaged image file ({str(exc)[:120]})") from None
    if fmt not in FORMATS:
        raise MediaError(f"a {fmt} image, not an allowed type ({ALLOWED})")
    if EXTENSIONS[suffix] != fmt:
        raise MediaError(f"a {fmt} image named {suffix} (the extension must say what the file is)")
    return fmt


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(RENDITION_VERSION.encode() + b"\0" + data, digest_size=10).hexdigest()


_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE IF NOT EXISTS rendition (
    hash TEXT, width INTEGER, ext TEXT, height INTEGER, type TEXT, data BLOB, PRIMARY KEY (hash, width, ext)
);
"""


class Catalog:
    """The images of one load: each file checked and rendered once, its renditions kept in a scratch SQLite file
    (never all in memory), a rejected reference's reason remembered for every document that names it."""

    def __init__(self, root: Path, directory: str | Path):
        self.root = root
        self.media = root / MEDIA_DIR
        self.db = sqlite3.connect(Path(directory) / "media.sqlite", isolation_level=None)
        self.db.executescript(_SCHEMA)
        self._seen: dict[str, Picture | MediaError] = {}
        self.images = 0  # distinct image files checked
        self.bytes_stored = 0  # bytes of every rendition made

    def close(self) -> None:
        self.db.close()

    def resolve(self, src: str, document: Path) -> Picture:
        """The checked image a document (by its path) names as `src`; MediaError with the reason otherwise."""
        parts = urlsplit(src)
        if parts.query or parts.fragment or "\\" in src or not parts.path:
            raise MediaError(f"an image reference must be a plain relative path: {src[:80]!r}")
        target = Path(os.path.normpath(document.parent / unquote(parts.path)))
        if not target.is_relative_to(self.media) or target == self.media:
            raise MediaError(f"an image must lie in the archive's {MEDIA_DIR}/ directory: {src[:80]!r}")
        key = str(target)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._checked(target)
        if isinstance(found, MediaError):
            raise found
        return found

    def _checked(self, target: Path) -> Picture | MediaError:
        name = target.relative_to(self.root).as_posix()
        shown = f"{MEDIA_DIR}/{target.relative_to(self.media).as_posix()}"
        if not os.path.lexists(target):
            return MediaError(f"no such image: {shown}")
        # A symbolic link among the directories above the file would take the read elsewhere: the whole path must
        # resolve inside media/ (read_archive_file checks the file itself).
        if not Path(os.path.realpath(target.parent)).is_relative_to(os.path.realpath(self.media)):
            return MediaError(f"{shown}: a symbolic link to a directory outside {MEDIA_DIR}/ (refused)")
        try:
            data = read_archive_file(target, self.media, limit=MAX_IMAGE_BYTES, kind="an image")
        except ArchiveError as exc:  # its reason, without its path: the document's line is what is reported
            return MediaError(f"{shown}: {exc.reason}")
        try:
            check(data, name)
            picture = render(data, digest_of(data))
        except MediaError as exc:
            return MediaError(f"{shown}: {exc}")
        self.images += 1
        rows = [(picture.hash, r.width, r.ext, r.height, r.media_type, r.data) for r in picture.renditions]
        self.bytes_stored += sum(len(r.data) for r in picture.renditions)
        self.db.executemany("INSERT OR IGNORE INTO rendition VALUES (?, ?, ?, ?, ?, ?)", rows)
        return picture

    def renditions(self, hashes: list[str]):
        """(hash, width, ext, height, type, data) of the images named, in a stable order."""
        for first in range(0, len(hashes), 500):
            chunk = hashes[first : first + 500]
            marks = ", ".join("?" * len(chunk))
            yield from self.db.execute(
                f"SELECT hash, width, ext, height, type, data FROM rendition WHERE hash IN ({marks}) "  # noqa: S608
                "ORDER BY hash, width, ext",
                chunk,
            )
