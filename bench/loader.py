"""`make bench-loader`: load throughput (documents/second) and peak memory of the archive loader by archive size.

For each size (default 1 000, 10 000 and 100 000 articles) a synthetic archive is generated once with
`bench.generate` into `.bench/archives/<N>` (reused by later runs: same seed, same bytes) and loaded into a fresh
SQLite store by a child process, so that each load's peak RSS is its own: the child's `ru_maxrss` from
`os.wait4` (not RUSAGE_CHILDREN, which keeps the maximum over every child so far). The child also reports its
RSS after imports and before the load, and the wall time of `load_archive` itself. Prints a table and writes
`.bench/loader.json`; the target is a peak at the largest size within 1.5x of the peak at the one before.

Two large-file cases follow, each a one-article archive loaded the same way: a 50 MB document (refused by the
archive file size limit before it is read: the peak RSS must stay near the RSS before the load) and a document just
under the limit (loaded: its peak RSS growth is given as a multiple of the file's size). `--sizes ""` runs only them.

Then what images cost (`--media N`, default 40): N documents each showing its own image (half 1600 × 1067 JPEG
photographs of noise and gradients, half 1600 × 900 PNG charts), loaded beside the same N documents without them.
The difference per image is the time of checking it and making its six renditions; it is given with the bytes
stored per image and as a multiple of the loader's time per article in the same run (the largest size's, or the
plain media archive's when no size is run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
SEED = 1
LIMIT = 1.5

CHILD = """
import json, sys, time
from api.ingest.loader import load_archive

def rss_kb():
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS:")).split()[1])

before = rss_kb()
started = time.perf_counter()
report = load_archive(sys.argv[1], sys.argv[2])
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "rss_before_kb": before, "files_read": report.files_read,
                  "articles_loaded": report.articles_loaded, "rejected": len(report.rejected),
                  "images": report.images, "media_bytes": report.media_bytes}))
"""


LARGE_CHILD = """
import json, sys, time
from api.ingest.loader import load_archive
from api.ingest.report import LoadFailed

def status_kb(field):
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith(field + ":")).split()[1])

before = status_kb("VmRSS")
started = time.perf_counter()
try:
    report = load_archive(sys.argv[1], sys.argv[2])
except LoadFailed as exc:
    report = exc.report
elapsed = time.perf_counter() - started
# VmHWM: the peak RSS of this program since its exec (ru_maxrss can carry the peak of a large forking parent)
print(json.dumps({"seconds": elapsed, "rss_before_kb": before, "own_peak_kb": status_kb("VmHWM"),
                  "files_read": report.files_read, "articles_loaded": report.articles_loaded,
                  "rejected": report.rejected}))
"""


def large_archive(name: str, size: int) -> Path:
    """A one-document archive whose document is `size` bytes of 1 000-character paragraphs (cached)."""
    path = CACHE / "archives" / name
    doc = path / "large.md"
    if doc.exists() and doc.stat().st_size == size:
        return path
    path.mkdir(parents=True, exist_ok=True)
    head = (
        "---\nslug: a-very-large-document\ntitle: A very large document\nlang: en\n"
        "published_at: 2022-02-21T09:00:00Z\nlead: A lead.\n---\n"
    )
    paragraph = ("word " * 199 + "end.\n\n").encode()
    with open(doc, "wb") as fh:
        fh.write(head.encode())
        left = size - len(head)
        while left > len(paragraph):
            fh.write(paragraph)
            left -= len(paragraph)
        fh.write(b"x" * (left - 1) + b"\n")
    return path


def large_files() -> list[dict]:
    from api.ingest.walk import MAX_FILE_BYTES

    rows = []
    for name, size, expect_loaded in (("large-50mb", 50 * 1024 * 1024, 0), ("large-limit", MAX_FILE_BYTES - 1024, 1)):
        path = large_archive(name, size)
        print(f"loading {name} ({size} bytes) ...", file=sys.stderr, flush=True)
        result = measure(path, LARGE_CHILD)
        if result["articles_loaded"] != expect_loaded:
            raise SystemExit(f"the load of {path} did not go as expected: {result}")
        result["peak_rss_kb"] = result.pop("own_peak_kb")
        grown_kb = result["peak_rss_kb"] - result["rss_before_kb"]
        result.update(case=name, file_bytes=size, grown_kb=grown_kb, multiple_of_file=grown_kb * 1024 / size)
        rows.append(result)
    return rows


MEDIA_DOC = """---
slug: pictured-{i}
title: "Pictured {i}"
lang: en
issue: 2022-01-31
section: economy
published_at: 2022-02-01T09:00:00Z
lead: "A document of the media benchmark."
{image}---
{words}
"""


def _bench_image(i: int) -> tuple[str, bytes]:
    """Image `i` of the media case: a noisy photograph (JPEG) or a flat chart (PNG), distinct bytes each."""
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(i)
    out = io.BytesIO()
    if i % 2 == 0:
        image = Image.linear_gradient("L").resize((1600, 1067)).convert("RGB")
        noise = Image.effect_noise((1600, 1067), 40 + i % 20).convert("RGB")
        Image.blend(image, noise, 0.35).save(out, "JPEG", quality=85)
        return f"photo-{i}.jpg", out.getvalue()
    image = Image.new("RGB", (1600, 900), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    for k in range(16):
        top = rng.randint(100, 800)
        draw.rectangle([60 + k * 95, top, 130 + k * 95, 860], fill=(31, 58, 96) if k % 3 else (198, 40, 40))
    image.quantize(colors=8).save(out, "PNG", optimize=True)
    return f"chart-{i}.png", out.getvalue()


def media_archives(count: int) -> tuple[Path, Path]:
    """Two archives of `count` documents (cached): each showing its own image, and the same without."""
    with_images, plain = CACHE / "archives" / f"media-{count}", CACHE / "archives" / f"media-{count}-plain"
    if not (with_images / "done").exists():
        for path in (with_images, plain):
            shutil.rmtree(path, ignore_errors=True)
            (path / "2022-01-31").mkdir(parents=True)
        (with_images / "media").mkdir()
        words = "\n\n".join("Words of a paragraph of the benchmark document. " * 12 for _ in range(6))
        for i in range(count):
            name, data = _bench_image(i)
            (with_images / "media" / name).write_bytes(data)
            lead = f'image: ../media/{name}\nimage_alt: "Image {i}"\n'
            (with_images / "2022-01-31" / f"pictured-{i}.en.md").write_text(
                MEDIA_DOC.format(i=i, image=lead, words=words)
            )
            (plain / "2022-01-31" / f"pictured-{i}.en.md").write_text(MEDIA_DOC.format(i=i, image="", words=words))
        (with_images / "done").write_text("")
    return with_images, plain


def media_case(count: int, per_article: float | None) -> dict:
    with_images, plain = media_archives(count)
    print(f"loading {count} documents with and without images ...", file=sys.stderr, flush=True)
    shown, bare = measure(with_images), measure(plain)
    if shown["images"] != count or shown["articles_loaded"] != count or bare["articles_loaded"] != count:
        raise SystemExit(f"the media loads did not go as expected: {shown} / {bare}")
    per_image = (shown["seconds"] - bare["seconds"]) / count
    per_article = per_article if per_article is not None else bare["seconds"] / count
    source_bytes = sum(p.stat().st_size for p in (with_images / "media").iterdir())
    return {
        "images": count,
        "seconds_with": shown["seconds"],
        "seconds_without": bare["seconds"],
        "seconds_per_image": per_image,
        "seconds_per_article": per_article,
        "image_to_article": per_image / per_article,
        "source_bytes_per_image": source_bytes / count,
        "stored_bytes_per_image": shown["media_bytes"] / count,
        "store_bytes_with": shown["store_bytes"],
        "store_bytes_without": bare["store_bytes"],
    }


def archive(size: int) -> tuple[Path, dict]:
    """The cached archive of `size` articles (generated on first use) and its manifest."""
    from bench.generate import MANIFEST, generate

    path = CACHE / "archives" / str(size)
    manifest = path / MANIFEST
    if not manifest.exists():  # absent or left half-written by an interrupted run
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        print(f"generating {size} articles into {path.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
        generate(path, size, seed=SEED)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return path, json.loads(manifest.read_text())


def measure(path: Path, code: str = CHILD) -> dict:
    """Load `path` into a fresh SQLite store in a child process; its timing and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'store.sqlite'}"
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(path), url], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        with child.stdout:
            out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if child.returncode != 0:
            raise SystemExit(f"the load of {path} failed (exit {child.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        store = Path(url[10:])
        result.update(
            peak_rss_kb=usage.ru_maxrss, process_seconds=wall, store_bytes=store.stat().st_size if store.exists() else 0
        )
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated article counts")
    parser.add_argument("--media", type=int, default=40, help="images of the media case (0: none)")
    parser.add_argument("--out", default=str(CACHE / "loader.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = []
    for size in sizes:
        path, manifest = archive(size)
        print(f"loading {size} ...", file=sys.stderr, flush=True)
        result = measure(path)
        if result["articles_loaded"] != manifest["articles"] or result["rejected"]:
            raise SystemExit(f"the load of {path} does not match its manifest: {result}")
        result.update(
            articles=size,
            documents=result["files_read"],
            docs_per_second=result["files_read"] / result["seconds"],
        )
        rows.append(result)

    print(f"\n{'articles':>9} {'documents':>10} {'load s':>8} {'docs/s':>8} {'RSS before MB':>14} {'peak RSS MB':>12}")
    for r in rows:
        print(
            f"{r['articles']:>9} {r['documents']:>10} {r['seconds']:>8.1f} {r['docs_per_second']:>8.0f} "
            f"{r['rss_before_kb'] / 1024:>14.1f} {r['peak_rss_kb'] / 1024:>12.1f}"
        )
    verdict = None
    if len(rows) >= 2:
        ratio = rows[-1]["peak_rss_kb"] / rows[-2]["peak_rss_kb"]
        verdict = {"ratio": ratio, "limit": LIMIT, "ok": ratio <= LIMIT}
        print(
            f"\npeak RSS at {rows[-1]['articles']} / at {rows[-2]['articles']}: {ratio:.2f}x "
            f"({'within' if verdict['ok'] else 'OVER'} the {LIMIT}x target)"
        )
    large = large_files()
    print(
        f"\n{'large file':>12} {'bytes':>10} {'loaded':>7} {'load s':>7} {'RSS before MB':>14} {'peak RSS MB':>12} {'growth':>8}"
    )
    for r in large:
        print(
            f"{r['case']:>12} {r['file_bytes']:>10} {r['articles_loaded']:>7} {r['seconds']:>7.2f} "
            f"{r['rss_before_kb'] / 1024:>14.1f} {r['peak_rss_kb'] / 1024:>12.1f} {r['multiple_of_file']:>7.1f}x"
        )
        for line in r["rejected"]:
            print(f"  {line}")
    media = None
    if args.media:
        per_article = rows[-1]["seconds"] / rows[-1]["articles_loaded"] if rows else None
        media = media_case(args.media, per_article)
        print(
            f"\nimages: {media['images']}, {media['seconds_per_image'] * 1000:.1f} ms per image (checks and renditions) "
            f"= {media['image_to_article']:.1f}x the {media['seconds_per_article'] * 1000:.2f} ms per article; "
            f"{media['stored_bytes_per_image'] / 1024:.0f} KB of renditions stored per image "
            f"(sources {media['source_bytes_per_image'] / 1024:.0f} KB)"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "provenance": provenance(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
                "rows": rows,
                "memory": verdict,
                "large_files": large,
                "media": media,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {out}", file=sys.stderr)
    return 0 if verdict is None or verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
