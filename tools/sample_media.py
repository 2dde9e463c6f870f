"""The sample archive's images, drawn from code: simple geometric charts, no text, no third-party material.

    python -m tools.sample_media           write data/archive/media/*
    python -m tools.sample_media --check   exit 1 when a file there is not what this would write

The shapes are made up (no data of the bulletin is charted); the files are small (a few KB each) and belong to
the project under its own licence.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw

MEDIA = Path(__file__).resolve().parent.parent / "data" / "archive" / "media"
INK, GRID, PAPER = (31, 58, 96), (205, 212, 222), (250, 250, 247)
ACCENT, WARN = (46, 125, 50), (198, 40, 40)


def _axes(draw: ImageDraw.ImageDraw, width: int, height: int, pad: int) -> None:
    for k in range(1, 5):
        y = pad + (height - 2 * pad) * k // 5
        draw.line([(pad, y), (width - pad, y)], fill=GRID, width=2)
    draw.line([(pad, height - pad), (width - pad, height - pad)], fill=INK, width=3)
    draw.line([(pad, pad), (pad, height - pad)], fill=INK, width=3)


def bars() -> Image.Image:
    """Twelve bars falling away: a shrinking series (1600 × 900: renditions at 320, 640 and 1280)."""
    width, height, pad = 1600, 900, 80
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    _axes(draw, width, height, pad)
    values = [92, 88, 90, 84, 79, 81, 72, 66, 61, 63, 55, 48]
    step = (width - 2 * pad) // len(values)
    for i, value in enumerate(values):
        x = pad + i * step + step // 5
        top = height - pad - (height - 2 * pad) * value // 100
        draw.rectangle([x, top, x + step * 3 // 5, height - pad - 2], fill=WARN if value < 70 else INK)
    return image.quantize(colors=8)


def line() -> Image.Image:
    """Two lines parting ways (960 × 540: renditions at 320, 640 and its own 960)."""
    width, height, pad = 960, 540, 50
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    _axes(draw, width, height, pad)
    rising = [30, 34, 33, 40, 46, 45, 52, 58, 63, 70]
    falling = [60, 58, 59, 52, 47, 49, 41, 38, 33, 29]
    step = (width - 2 * pad) / (len(rising) - 1)
    for series, colour in ((rising, ACCENT), (falling, WARN)):
        points = [(pad + i * step, height - pad - (height - 2 * pad) * v / 100) for i, v in enumerate(series)]
        draw.line(points, fill=colour, width=6, joint="curve")
        for x, y in points:
            draw.ellipse([x - 8, y - 8, x + 8, y + 8], fill=colour)
    return image.quantize(colors=8)


def rings() -> Image.Image:
    """A ring chart in soft colours, as a JPEG (480 × 480: renditions at 320 and its own 480)."""
    size = 480
    image = Image.new("RGB", (size, size), PAPER)
    draw = ImageDraw.Draw(image)
    shares = [(0.46, INK), (0.31, ACCENT), (0.23, WARN)]
    start = -90.0
    for share, colour in shares:
        end = start + share * 360
        draw.pieslice([40, 40, size - 40, size - 40], start, end, fill=colour)
        start = end
    draw.ellipse([150, 150, size - 150, size - 150], fill=PAPER)
    return image


def squares() -> Image.Image:
    """A grid of squares, shown only by hidden sample articles (the leak suite proves it never served early)."""
    image = Image.new("RGB", (400, 300), PAPER)
    draw = ImageDraw.Draw(image)
    for i in range(4):
        for j in range(3):
            draw.rectangle([20 + i * 95, 20 + j * 90, 95 + i * 95, 95 + j * 90], fill=(INK, ACCENT, WARN)[(i + j) % 3])
    return image.quantize(colors=4)


SAMPLES = {
    "budget-bars.png": (bars, "PNG"),
    "two-lines.png": (line, "PNG"),
    "ring-shares.jpg": (rings, "JPEG"),
    "hidden-squares.png": (squares, "PNG"),
}


def encoded(name: str) -> bytes:
    draw, fmt = SAMPLES[name]
    out = io.BytesIO()
    options = {"quality": 60, "optimize": True} if fmt == "JPEG" else {"optimize": True}
    draw().save(out, fmt, **options)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    MEDIA.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        data, path = encoded(name), MEDIA / name
        if path.exists() and path.read_bytes() == data:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_bytes(data)
            print(f"{path}: {len(data)} bytes")
    if stale:
        print("stale: " + ", ".join(stale) + " (run python -m tools.sample_media)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
