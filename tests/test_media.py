"""Images of the archive, on both backends: the loader's checks (each refusal a `path:line: reason`, the live store
untouched), sizes and renditions, the served bytes and their caching, and the fields that describe them."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from api.ingest.loader import LoadFailed, load_archive
from api.ingest.media import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, RENDITION_WIDTHS, rendition_widths
from tests.conftest import ARCHIVE, copy_archive
from tests.test_loader import snapshot

FRONT = """\
---
slug: {slug}
title: "Pictures {slug}"
lang: en
issue: 2022-01-31
section: economy
trend: better
status: published
published_at: 2022-02-07T09:00:00Z
lead: "A document with pictures."
{extra}---
Some words first.

{body}
"""


def picture(width: int, height: int, fmt: str = "PNG", mode: str = "RGB", **options) -> bytes:
    image = Image.new(mode, (width, height), (40, 90, 160) if mode == "RGB" else 0)
    for x in range(0, width, 7):  # something to resample
        image.putpixel((x, x * height // width), (250, 200, 0) if mode == "RGB" else 255)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def document(archive, slug: str, body: str = "", extra: str = "", folder: str = "2022-01-31"):
    path = archive / folder / f"{slug}.en.md"
    path.write_text(FRONT.format(slug=slug, body=body, extra=extra), encoding="utf-8")
    return path


def _load(settings, archive):
    return load_archive(archive, settings["DATABASE_URL"], schema=settings["DATABASE_SCHEMA"])


def _refusal(settings, archive) -> str:
    with pytest.raises(LoadFailed) as failed:
        _load(settings, archive)
    (line,) = failed.value.report.rejected
    return line


# ---------------------------------------------------------------- the loader's checks


def test_rendition_widths_never_upscale():
    assert rendition_widths(2000) == [320, 640, 1280]
    assert rendition_widths(1280) == [320, 640, 1280]
    assert rendition_widths(700) == [320, 640, 700]
    assert rendition_widths(200) == [200]
    assert RENDITION_WIDTHS == (320, 640, 1280)


BAD = [
    ("missing", "![x](../media/nowhere.png)", None, "no such image: media/nowhere.png"),
    ("outside", "![x](../2022-02-14/belarus-budget-deficit-widens.en.md)", None, "must lie in the archive's media/"),
    ("not-image", "![x](../media/fake.png)", ("fake.png", b"just some text, no pixels"), "not an image"),
    ("wrong-type", "![x](../media/photo.png)", ("photo.png", "JPEG"), "a JPEG image named .png"),
    ("bad-ext", "![x](../media/pic.bmp)", ("pic.bmp", "BMP"), "not an image of an allowed type"),
    ("tiff", "![x](../media/pic.tif)", ("pic.tif", "TIFF"), "not an image of an allowed type"),
    ("query", "![x](../media/a.png?x=1)", None, "a plain relative path"),
]


@pytest.mark.parametrize(("slug", "body", "planted", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_broken_inline_image_is_path_line_reason_and_the_store_is_untouched(
    scratch_store, tmp_path, slug, body, planted, reason
):
    _load(scratch_store, ARCHIVE)
    before = snapshot(scratch_store)
    archive = copy_archive(tmp_path, ARCHIVE)
    if planted:
        name, content = planted
        (archive / "media" / name).write_bytes(content if isinstance(content, bytes) else picture(40, 30, content))
    document(archive, slug, body=f"More words.\n\n{body}")
    line = _refusal(scratch_store, archive)
    # the front matter takes lines 1-11, the body starts at 12 and the image is its fifth line
    assert line.startswith(f"{archive.name}/2022-01-31/{slug}.en.md:16: "), line
    assert reason in line, line
    assert snapshot(scratch_store) == before


def test_a_broken_lead_image_names_the_front_matter_line(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    document(archive, "lead", extra='image: ../media/gone.png\nimage_alt: "Gone"\n')
    assert _refusal(scratch_store, archive) == f"{archive.name}/2022-01-31/lead.en.md:11: no such image: media/gone.png"
    document(archive, "lead", extra="image: ../media/budget-bars.png\n")
    assert _refusal(scratch_store, archive).endswith("lead.en.md:11: a lead image needs its alt text (image_alt)")


def test_a_decompression_bomb_is_refused_from_its_header(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    side = int(MAX_IMAGE_PIXELS**0.5) + 10  # over the limit, yet a tiny file (one flat colour)
    (archive / "media" / "bomb.png").write_bytes(picture(side, side, mode="1", optimize=True))
    assert os.path.getsize(archive / "media" / "bomb.png") < MAX_IMAGE_BYTES
    document(archive, "bomb", body="![x](../media/bomb.png)")
    line = _refusal(scratch_store, archive)
    assert f"{side} × {side} pixels, over the {MAX_IMAGE_PIXELS}-pixel limit" in line, line


def test_an_oversized_truncated_or_animated_image_is_refused(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    media = archive / "media"
    (media / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_IMAGE_BYTES + 1))
    document(archive, "huge", body="![x](../media/huge.png)")
    assert f"over the {MAX_IMAGE_BYTES}-byte limit of an image" in _refusal(scratch_store, archive)
    (archive / "2022-01-31" / "huge.en.md").unlink()
    whole = picture(300, 200, "JPEG")
    (media / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    document(archive, "cut", body="![x](../media/cut.jpg)")
    assert "a damaged JPEG file" in _refusal(scratch_store, archive)
    (archive / "2022-01-31" / "cut.en.md").unlink()
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    (media / "moving.gif").write_bytes(out.getvalue())
    document(archive, "moving", body="![x](../media/moving.gif)")
    assert "an animated GIF image (refused" in _refusal(scratch_store, archive)


def test_symbolic_links_and_special_files_cannot_take_the_loader_out_of_media(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    outside = tmp_path / "secret.png"
    outside.write_bytes(picture(50, 50))
    (archive / "media" / "link.png").symlink_to(outside)
    document(archive, "link", body="![x](../media/link.png)")
    assert "a symbolic link to a file outside the archive (refused)" in _refusal(scratch_store, archive)
    (archive / "2022-01-31" / "link.en.md").unlink()
    (archive / "media" / "dir").symlink_to(tmp_path, target_is_directory=True)
    document(archive, "dir", body="![x](../media/dir/secret.png)")
    assert "a symbolic link to a directory outside media/ (refused)" in _refusal(scratch_store, archive)
    (archive / "2022-01-31" / "dir.en.md").unlink()
    os.mkfifo(archive / "media" / "pipe.png")
    document(archive, "pipe", body="![x](../media/pipe.png)")
    assert "a FIFO, not a regular file (refused)" in _refusal(scratch_store, archive)


def test_a_link_inside_media_is_followed_and_one_file_is_rendered_once(scratch_store, tmp_path):
    archive = copy_archive(tmp_path, ARCHIVE)
    (archive / "media" / "alias.png").symlink_to(archive / "media" / "two-lines.png")
    document(archive, "alias", body="![x](../media/alias.png)\n\n![y](../media/two-lines.png)")
    report = _load(scratch_store, archive)
    assert report.images == 4 and report.rejected == []  # the same bytes: one image, however named


# ---------------------------------------------------------------- sizes, renditions, serving


def _image_of(client, slug: str) -> dict:
    return client.get(f"/v1/articles/{slug}").get_json()["data"]["image"]


def test_the_lead_image_carries_url_size_alt_and_renditions(client):
    image = _image_of(client, "belarus-budget-deficit-widens")
    assert image["caption"] == "Illustration: twelve months, made-up values" and image["alt"].startswith("Bar chart")
    assert (image["width"], image["height"]) == (1280, 720)  # 1600 × 900, capped at the widest rendition
    assert re.fullmatch(r"http://localhost/media/[0-9a-f]{20}-1280\.png", image["url"])
    shown = [(r["width"], r["height"], r["type"]) for r in image["renditions"]]
    assert shown == [
        (320, 180, "image/webp"), (320, 180, "image/png"), (640, 360, "image/webp"), (640, 360, "image/png"),
        (1280, 720, "image/webp"), (1280, 720, "image/png"),
    ]  # fmt: skip
    assert image["url"] in {r["url"] for r in image["renditions"]}
    for r in image["renditions"]:
        resp = client.get(r["url"].removeprefix("http://localhost"))
        assert resp.status_code == 200 and resp.mimetype == r["type"]
        with Image.open(io.BytesIO(resp.data)) as served:
            assert served.size == (r["width"], r["height"])
            assert served.format == {"image/webp": "WEBP", "image/png": "PNG"}[r["type"]]


def test_an_image_without_a_file_keeps_its_caption_and_null_sizes(scratch_store, tmp_path, new_app):
    archive = copy_archive(tmp_path, ARCHIVE)
    document(archive, "captioned", extra='image_caption: "A caption"\nimage_credit: "A credit"\n')
    _load(scratch_store, archive)
    client = new_app(scratch_store).test_client()
    listed = {a["slug"]: a["image"] for a in client.get("/v1/articles?fields=image&limit=100").get_json()["data"]}
    assert listed["captioned"] == {
        "caption": "A caption", "credit": "A credit", "url": None, "width": None, "height": None, "alt": None,
        "renditions": [],
    }  # fmt: skip
    assert {slug for slug, image in listed.items() if image and image["url"]} == {
        "belarus-budget-deficit-widens", "deficit-byudzheta-belarusi-rastet",
    }  # fmt: skip
    assert listed["western-sanctions-treat-minsk-as-co-belligerent"] is None


def test_inline_images_carry_the_same_in_blocks_and_html(client):
    body = client.get("/v1/articles/sanctions-shock-hits-rouble-banks-and-exports?format=blocks").get_json()
    (image,) = [b for b in body["data"]["body"]["blocks"] if b["type"] == "image"]
    assert (image["width"], image["height"], image["caption"]) == (960, 540, "Two series part ways (illustration)")
    assert image["src"] == image["url"] and image["url"].endswith("-960.png")
    assert [r["width"] for r in image["renditions"]] == [320, 320, 640, 640, 960, 960]
    html = client.get("/v1/articles/sanctions-shock-hits-rouble-banks-and-exports").get_json()["data"]["body"]["html"]
    (tag,) = re.findall(r"<img [^>]*>", html)
    webp = ", ".join(f"{r['url']} {r['width']}w" for r in image["renditions"] if r["type"] == "image/webp")
    assert f'src="{image["url"]}"' in tag and f'srcset="{webp}"' in tag
    assert 'width="960" height="540"' in tag and 'loading="lazy"' in tag and f'alt="{image["alt"]}"' in tag


def test_a_rendition_is_immutable_with_an_etag_and_a_304(client):
    url = _image_of(client, "belarus-budget-deficit-widens")["renditions"][0]["url"].removeprefix("http://localhost")
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Content-Type"] == "image/webp"
    etag = resp.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    head = client.head(url)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(resp.data))


@pytest.mark.parametrize("name", ["nothing", "0123456789abcdef0123-320.png", "../etc-320.png", "A" * 20 + "-320.png"])
def test_an_unknown_rendition_is_a_problem_404(client, name):
    url = _image_of(client, "belarus-budget-deficit-widens")["url"]
    real = url.rsplit("/", 1)[-1]
    for path in (f"/media/{name}", f"/media/{real.replace('-1280.', '-1279.')}", f"/media/{real[:-3]}gif"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.mimetype == "application/problem+json", path
        assert resp.headers["Cache-Control"] == "no-store"
