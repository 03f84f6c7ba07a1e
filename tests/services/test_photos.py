"""The photo diary: the ingest pipeline, the durable store, and the web routes.

Every image is made here, with real metadata (GPS, camera, dates, XMP, a comment, an
embedded thumbnail, an orientation tag), and checked after ingest with Pillow, by its
bytes and, where Debian's exiftool is installed, independently by exiftool.
Security checklist C1-C12, E1, E8, F3, F4.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import stat
import struct
import subprocess
import time
import zlib
from datetime import timedelta

import piexif
import pillow_heif
import pytest
import sqlalchemy as sa
from PIL import Image
from PIL import ImageChops

from app.adapters import imaging
from app.adapters.photo_store import KEY_PATTERN
from app.adapters.photo_store import OWNER_NAME
from app.adapters.photo_store import LocalPhotoStore
from app.adapters.photo_store import SimulatedCrash
from app.adapters.photo_store import StorageError
from app.extensions import db
from app.models import AuditEvent
from app.models import Photo
from app.services import photos
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of

# The tests encode HEIF themselves; the app registers the opener only on its first photo.
pillow_heif.register_heif_opener()

ALICE = "alice@patients.example"  # clinic 1, day 3
BOB = "bob@patients.example"  # clinic 1, booked tomorrow
CARA = "cara@patients.example"  # clinic 2, day 5
DOC1 = "doc1@north.example"
DOC2 = "doc2@south.example"

SECRETS = [b"SpyCam", b"Model-X", b"2026:11:17", b"secret", b"Exif", b"ns.adobe.com/xap", b"GPS"]
GRAY, RED = (128, 128, 128), (220, 20, 20)


# ------------------------------------------------------------------ image makers


def _picture(size: tuple[int, int]) -> Image.Image:
    """Gray with a red block in the top-left corner, so orientation can be checked."""
    im = Image.new("RGB", size, GRAY)
    im.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    return im


def _exif(orientation: int) -> bytes:
    thumb = io.BytesIO()
    Image.new("RGB", (160, 120), RED).save(thumb, "JPEG")
    return piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"SpyCam",
                piexif.ImageIFD.Model: b"Model-X",
                piexif.ImageIFD.Orientation: orientation,
                piexif.ImageIFD.ImageDescription: b"secret description",
            },
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2026:11:17 10:00:00"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((51, 1), (30, 1), (2600, 100)),
                piexif.GPSIFD.GPSLongitudeRef: b"W",
                piexif.GPSIFD.GPSLongitude: ((0, 1), (7, 1), (3900, 100)),
            },
            "1st": {piexif.ImageIFD.JPEGInterchangeFormatLength: len(thumb.getvalue())},
            "thumbnail": thumb.getvalue(),
        }
    )


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
    b'-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmp:CreatorTool="secret tool"/></rdf:RDF></x:xmpmeta>'
)


def phone_jpeg(size: tuple[int, int] = (1200, 900), orientation: int = 6, **kwargs) -> bytes:
    """A JPEG as a phone makes it: EXIF with GPS and a thumbnail, XMP, a comment."""
    buffer = io.BytesIO()
    _picture(size).save(
        buffer,
        "JPEG",
        quality=92,
        exif=_exif(orientation),
        comment=b"secret comment",
        xmp=XMP,
        **kwargs,
    )
    return buffer.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "gray").save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A 65-byte-ish PNG that only claims its size (pixel flood)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 16)
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(idat))
    return b"\x89PNG\r\n\x1a\n" + chunk


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim another size."""
    data = bytearray(encoded("JPEG", (16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def pixel(data: bytes, xy: tuple[int, int]) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB").getpixel(xy)


def near(color: tuple[int, ...], target: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, target, strict=True))


def assert_clean_jpeg(data: bytes) -> None:
    """Only pixels: no EXIF, GPS, XMP, ICC, comment or thumbnail, by Pillow and by bytes."""
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        assert len(im.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(im.info)
        assert im.applist == [("APP0", im.applist[0][1])]  # the JFIF header only
    for secret in SECRETS:
        assert secret not in data, secret
    assert data.count(b"\xff\xd8") == 1  # one image: the embedded thumbnail is gone


# ------------------------------------------------------------------ pipeline


def test_phone_jpeg_is_upright_and_has_no_metadata():
    out = imaging.process(phone_jpeg((1200, 900), orientation=6))
    # Orientation 6: shown rotated 90 degrees clockwise, so the block moves top-right.
    assert (out.width, out.height) == (900, 1200)
    assert near(pixel(out.full, (out.width - 20, 20)), RED)
    assert near(pixel(out.full, (20, 20)), GRAY)
    assert_clean_jpeg(out.full)
    assert_clean_jpeg(out.thumb)
    with Image.open(io.BytesIO(out.thumb)) as thumb:
        assert max(thumb.size) == 320
        assert near(thumb.convert("RGB").getpixel((thumb.width - 5, 5)), RED)


@pytest.mark.parametrize("orientation", [1, 3, 8])
def test_every_orientation_ends_upright(orientation):
    out = imaging.process(phone_jpeg((400, 300), orientation=orientation))
    # Where the stored top-left block is shown, per EXIF orientation.
    corner = {1: (10, 10), 3: (out.width - 10, out.height - 10), 8: (10, out.height - 10)}
    assert near(pixel(out.full, corner[orientation]), RED)


def test_exiftool_sees_no_metadata_in_the_stored_photo(tmp_path):
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        if os.environ.get("REQUIRE_EXIFTOOL") == "1":
            pytest.fail("REQUIRE_EXIFTOOL=1 but exiftool is absent")
        pytest.skip("exiftool is absent: apt-get install -y libimage-exiftool-perl")
    source = tmp_path / "in.jpg"
    source.write_bytes(phone_jpeg())
    before = json.loads(subprocess.check_output([exiftool, "-j", "-G", "-a", str(source)]))[0]
    assert "EXIF:GPSLatitude" in before and "EXIF:Make" in before  # the check can see them
    stored = tmp_path / "out.jpg"
    stored.write_bytes(imaging.process(source.read_bytes()).full)
    after = json.loads(subprocess.check_output([exiftool, "-j", "-G", "-a", str(stored)]))[0]
    groups = {key.split(":")[0] for key in after if ":" in key}
    assert groups <= {"ExifTool", "File", "JFIF", "Composite"}, sorted(after)
    assert not [k for k in after if any(w in k for w in ("GPS", "Make", "Model", "Date/Time O"))]


def test_stored_size_keeps_clinical_detail_and_quality():
    # 12 MP decodes at half scale (2016 px, within 5 % of 2048: performance anchor P14).
    twelve = imaging.process(phone_jpeg((4032, 3024), orientation=1))
    assert (twelve.width, twelve.height) == (2016, 1512)
    larger = imaging.process(phone_jpeg((3000, 2000), orientation=1))
    assert (larger.width, larger.height) == (2048, 1365)
    small = imaging.process(phone_jpeg((800, 600), orientation=1))
    assert (small.width, small.height) == (800, 600)  # never enlarged
    reference = io.BytesIO()
    Image.new("RGB", (64, 64)).save(reference, "JPEG", quality=88, subsampling=0)
    with Image.open(io.BytesIO(larger.full)) as im, Image.open(reference) as ref:
        assert im.quantization == ref.quantization  # quality 88
        assert [layer[1:3] for layer in im.layer] == [(1, 1)] * 3  # 4:4:4


def test_a_multi_picture_jpeg_keeps_only_the_main_picture():
    # Android "Ultra HDR" and many cameras add pictures (gain map, depth) after the first.
    buffer = io.BytesIO()
    extra = Image.new("RGB", (400, 300), "white")
    _picture((4032, 3024)).save(buffer, "MPO", save_all=True, append_images=[extra])
    out = imaging.process(buffer.getvalue())
    assert (out.width, out.height) == (2016, 1512)  # decoded at half scale, like a JPEG
    assert near(pixel(out.full, (20, 20)), RED)
    assert_clean_jpeg(out.full)


def test_png_with_alpha_and_html_in_a_text_chunk_becomes_a_clean_jpeg():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<html><script>alert(1)</script></html>")
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 200), (200, 0, 0, 128)).save(buffer, "PNG", pnginfo=info)
    out = imaging.process(buffer.getvalue())
    assert out.source_format == "PNG"
    assert b"<script" not in out.full and b"<html" not in out.full
    assert_clean_jpeg(out.full)
    assert near(pixel(out.full, (10, 10)), (227, 127, 127))  # flattened onto white


@pytest.mark.parametrize("value", [1000, 30000, 60000])
def test_a_16_bit_greyscale_png_keeps_its_greys(value):
    """Pillow's own conversion clipped every 16-bit value above 255, so a dark grey
    photo was stored as a white rectangle, and the page said "Photo saved"."""
    buffer = io.BytesIO()
    Image.new("I", (300, 200), value).convert("I;16").save(buffer, "PNG")
    out = imaging.process(buffer.getvalue())
    grey = round(value * 255 / 65535)
    assert near(pixel(out.full, (10, 10)), (grey, grey, grey))
    assert_clean_jpeg(out.full)


def test_heic_from_an_iphone_is_accepted_upright_and_stripped():
    buffer = io.BytesIO()
    _picture((400, 300)).save(buffer, "HEIF", quality=90, exif=_exif(6), xmp=XMP)
    out = imaging.process(buffer.getvalue())
    assert out.source_format == "HEIF"
    assert (out.width, out.height) == (300, 400)
    assert near(pixel(out.full, (out.width - 10, 10)), RED)
    assert_clean_jpeg(out.full)


@pytest.mark.parametrize(
    ("mode", "size", "profile"),
    [
        pytest.param("RGB", (631, 423), False, id="rgb-odd-size"),
        pytest.param("RGBA", (305, 203), False, id="rgba-flattened"),
        pytest.param("RGB", (400, 301), True, id="display-p3"),
    ],
)
def test_a_large_heic_is_reduced_strip_by_strip_to_the_same_pixels(
    monkeypatch, mode, size, profile
):
    # Strips of 3 rows (6 with the reduction by 2) leave a part block at the bottom of
    # the odd sizes: the pixels must still be those of the whole picture reduced at once.
    monkeypatch.setattr(imaging, "STRIP_ROWS", 3)
    bands = [Image.linear_gradient("L").resize(size), Image.effect_noise(size, 40)]
    picture = Image.merge(mode, (bands * 2)[: len(mode)])
    icc = display_p3_profile() if profile else None
    buffer = io.BytesIO()
    picture.save(buffer, "HEIF", quality=90, **({"icc_profile": icc} if icc else {}))
    with Image.open(io.BytesIO(buffer.getvalue())) as whole:
        whole.load()
        expected = imaging._to_srgb(whole, icc).reduce(2)
    reduced = imaging._heif_reduced(buffer.getvalue(), icc, 2)
    assert reduced.size == expected.size == (-(-size[0] // 2), -(-size[1] // 2))
    assert reduced.mode == "RGB"
    assert ImageChops.difference(reduced, expected).getbbox() is None


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def display_p3_profile() -> bytes:
    """A minimal ICC v2 matrix/curve profile with Display P3 primaries (as iPhones embed)."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)

    text = b"Display P3 (test)\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 78
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = (
        struct.pack(">I", offset + len(data))
        + b"lcms\x02\x10\x00\x00mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + data


def test_display_p3_colours_are_converted_to_srgb_and_the_profile_dropped():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 100, 100)).save(
        buffer, "JPEG", icc_profile=display_p3_profile(), quality=95
    )
    out = imaging.process(buffer.getvalue())
    assert_clean_jpeg(out.full)
    # The same numbers mean a more saturated red in P3 than in sRGB.
    assert near(pixel(out.full, (10, 10)), (216, 93, 96), tolerance=4)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encoded("GIF"), id="gif"),
        pytest.param(encoded("WEBP"), id="webp"),
        pytest.param(encoded("TIFF"), id="tiff"),
        pytest.param(encoded("BMP"), id="bmp"),
        pytest.param(encoded("PDF"), id="pdf"),
        pytest.param(encoded("JPEG2000"), id="jpeg2000"),
        pytest.param(encoded("ICO", (32, 32)), id="ico"),
        pytest.param(b"SIMPLE  =                    T\nBITPIX  = 8\nEND" + b" " * 2800, id="fits"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", id="eps"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', id="svg"),
        pytest.param(b"<!doctype html><html><script>alert(1)</script></html>", id="html"),
        pytest.param(b"\x7fELF\x02\x01\x01" + b"\0" * 200, id="elf"),
        pytest.param(b"", id="empty"),
    ],
)
def test_anything_but_jpeg_png_heif_is_refused_by_content(data):
    with pytest.raises(imaging.Rejected, match="not a photo we can use"):
        imaging.process(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(png_header(10_000, 10_000), id="png-10000x10000"),
        pytest.param(png_header(20_000, 20_000), id="png-20000x20000"),
        pytest.param(png_header(8_000, 6_500), id="png-52MP-under-pillow-limit"),
        pytest.param(jpeg_claiming(65_535, 65_535), id="jpeg-65535x65535"),
    ],
)
def test_pixel_floods_are_refused_from_the_header_quickly(data):
    started = time.perf_counter()
    with pytest.raises(imaging.Rejected, match="too many pixels"):
        imaging.process(data)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(phone_jpeg()[:4000], id="truncated-jpeg"),
        pytest.param(encoded("PNG", (300, 300))[:-40], id="truncated-png"),
        pytest.param(b"\xff\xd8\xff\xe0" + os.urandom(5000), id="jpeg-garbage"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + os.urandom(500), id="png-garbage"),
    ],
)
def test_damaged_files_are_refused(data):
    with pytest.raises(imaging.Rejected):
        imaging.process(data)


def test_a_5_mb_icc_blob_and_10000_png_text_chunks_are_handled_not_crashed():
    junk = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(junk, "JPEG", icc_profile=os.urandom(5_000_000))
    assert len(junk.getvalue()) > 5_000_000
    assert_clean_jpeg(imaging.process(junk.getvalue()).full)

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for i in range(10_000):
        info.add_text(f"k{i}", "x" * 20)
    chunks = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(chunks, "PNG", pnginfo=info)
    try:
        out = imaging.process(chunks.getvalue())
    except imaging.Rejected:
        return  # refusing is fine too; crashing is not
    assert_clean_jpeg(out.full)


# ------------------------------------------------------------------ the store


def test_store_writes_private_random_names_and_checks_sha256(tmp_path):
    store = LocalPhotoStore(str(tmp_path / "photos"))
    first, second = store.put(b"one"), store.put(b"one")
    assert first.key != second.key
    for item in (first, second):
        assert KEY_PATTERN.match(item.key)
        assert re.fullmatch(r"[0-9a-f]{32}\.jpg", item.key.split("/")[1])
        mode = stat.S_IMODE(os.stat(store.path(item.key)).st_mode)
        assert mode == 0o600
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    assert store.read(first.key, first.sha256) == b"one"
    assert not [n for _, names in store._folders() for n in names if n.startswith(".tmp")]

    with open(store.path(first.key), "ab") as f:
        f.write(b"<script>")
    with pytest.raises(StorageError, match="sha256"):
        store.read(first.key, first.sha256)
    store.delete(second.key)
    with pytest.raises(StorageError, match="missing"):
        store.read(second.key, second.sha256)
    for bad in ("../../etc/passwd", "/etc/passwd", "ab/../../x.jpg", "AB/" + "0" * 32 + ".jpg"):
        with pytest.raises(StorageError, match="malformed"):
            store.path(bad)


def test_sweep_removes_old_orphans_and_temp_files_only(tmp_path):
    store = LocalPhotoStore(str(tmp_path))
    kept, orphan, young = store.put(b"kept"), store.put(b"orphan"), store.put(b"young")
    temp = os.path.join(os.path.dirname(store.path(orphan.key)), ".tmp-" + "0" * 32)
    with open(temp, "wb") as f:
        f.write(b"half")
    old = time.time() - 7200
    for path in (store.path(kept.key), store.path(orphan.key), temp):
        os.utime(path, (old, old))
    removed = store.sweep(lambda keys: keys & {kept.key}, older_than=3600)
    assert removed == 2
    assert sorted(store.keys()) == sorted([kept.key, young.key])
    assert not os.path.exists(temp)


# ------------------------------------------------------------------ web helpers


def upload(client, data: bytes, *, filename="leg.jpg", mimetype="image/jpeg", **fields):
    form = {"side": "left", "region": "calf", "view": "inner", "note": ""} | fields
    form["photo"] = (io.BytesIO(data), filename, mimetype)
    return client.post("/patient/photos", data=form, content_type="multipart/form-data")


def stored_files(app) -> list[str]:
    """Every file in the photo folder but the owner mark a sweep writes (it holds no
    photo; tests/services/test_photo_store_owner.py checks it)."""
    root = app.config["PHOTO_STORAGE_DIR"]
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
        if (folder, name) != (root, OWNER_NAME)
    )


def photo_ids(in_app) -> list[int]:
    return in_app(lambda: list(db.session.scalars(sa.select(Photo.id).order_by(Photo.id))))


def assert_rows_match_files(in_app) -> None:
    """The invariant: every row's files exist, whole, with the recorded sha256."""
    assert in_app(photos.verify_all) == []


@pytest.fixture
def alice(client, world):
    login(client, ALICE)
    return client


# ------------------------------------------------------------------ web: adding


def test_patient_adds_a_photo_and_sees_it_by_day_in_the_diary(alice, app, in_app):
    page = alice.get("/patient/today")
    assert "/patient/photos/new" in page.get_data(as_text=True)
    r = upload(alice, phone_jpeg(), note="New bruise <b>here</b>")
    assert r.status_code == 303
    (pid,) = photo_ids(in_app)
    assert r.headers["Location"].endswith(f"/patient/photos#photo-{pid}")

    listing = alice.get("/patient/photos")
    assert f"/patient/photos/{pid}/thumb" in listing.get_data(as_text=True)
    text = text_of(listing)
    assert "Fri 20 Nov 2026 · Day 3 after treatment" in text
    assert "Left calf, inner side" in text
    assert "New bruise <b>here</b>" in text  # shown as text, escaped in the HTML
    assert "<b>here</b>" not in listing.get_data(as_text=True)

    diary = alice.get("/patient/diary")
    assert f"/patient/photos/{pid}/thumb" in diary.get_data(as_text=True)
    thumb = alice.get(f"/patient/photos/{pid}/thumb")
    assert thumb.status_code == 200 and thumb.data[:2] == b"\xff\xd8"
    full = alice.get(f"/patient/photos/{pid}/image")
    assert_clean_jpeg(full.data)
    assert near(pixel(full.data, (full_width(full.data) - 20, 20)), RED)  # upright
    assert_rows_match_files(in_app)
    assert len(stored_files(app)) == 2


def full_width(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as im:
        return im.width


def test_photo_responses_carry_the_privacy_headers(alice, in_app):
    upload(alice, phone_jpeg())
    (pid,) = photo_ids(in_app)
    for path in (f"/patient/photos/{pid}/image", f"/patient/photos/{pid}/thumb"):
        r = alice.get(path)
        assert r.headers["Content-Type"] == "image/jpeg"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert set(r.headers["Cache-Control"].replace(" ", "").split(",")) == {
            "private",
            "no-store",
        }
        assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert r.headers["Content-Disposition"] == 'inline; filename="photo.jpg"'
        assert r.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert "ETag" not in r.headers and "Last-Modified" not in r.headers


def test_polyglot_upload_is_stored_without_the_appended_html(alice, app, in_app):
    original = phone_jpeg() + b"<html><script>alert(document.cookie)</script></html>"
    assert upload(alice, original, filename="leg.jpg.html").status_code == 303
    (pid,) = photo_ids(in_app)
    served = alice.get(f"/patient/photos/{pid}/image").data
    assert served != original
    root = app.config["PHOTO_STORAGE_DIR"]
    for name in stored_files(app):
        with open(os.path.join(root, name), "rb") as f:
            data = f.read()
        assert b"<script" not in data and b"<html" not in data
        assert data.endswith(b"\xff\xd9")  # ends where the JPEG ends


@pytest.mark.parametrize(
    ("data", "filename", "mimetype"),
    [
        (encoded("GIF"), "leg.jpg", "image/jpeg"),
        (encoded("PDF"), "leg.jpg", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "leg.jpg", "image/jpeg"),
        (b"<html><script>alert(1)</script></html>", "leg.jpg.php", "text/html"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 100, "leg.php%00.jpg", "application/octet-stream"),
    ],
)
def test_wrong_types_get_a_clear_400_and_leave_nothing(
    alice, app, in_app, data, filename, mimetype
):
    r = upload(alice, data, filename=filename, mimetype=mimetype)
    assert r.status_code == 400
    assert "That file is not a photo we can use" in text_of(r)
    assert photo_ids(in_app) == [] and stored_files(app) == []


def test_a_real_jpeg_is_accepted_whatever_its_name_or_declared_type(alice, in_app):
    r = upload(
        alice, phone_jpeg(), filename="../../etc/évil name" + "x" * 300, mimetype="text/html"
    )
    assert r.status_code == 303
    assert len(photo_ids(in_app)) == 1


def test_pixel_flood_and_damaged_uploads_are_400_not_500(alice, app, in_app):
    for data in (png_header(20_000, 20_000), jpeg_claiming(65_535, 65_535), phone_jpeg()[:3000]):
        r = upload(alice, data)
        assert r.status_code == 400, r.status_code
        assert "Please" in text_of(r)
    assert photo_ids(in_app) == [] and stored_files(app) == []


def test_oversize_body_gets_the_friendly_413_page_and_leaves_nothing(alice, app, in_app):
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    # Encoded here: the test client spools big bodies to a file it never closes.
    boundary = "x-boundary"
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in (("side", "left"), ("region", "calf"), ("view", "inner"))
        ]
        + [
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="photo"; filename="leg.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            b"\xff\xd8" + b"\0" * (1024 * 1024),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    r = alice.post(
        "/patient/photos", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert r.status_code == 413
    assert "That file is too large" in text_of(r)
    assert photo_ids(in_app) == [] and stored_files(app) == []


def test_site_and_file_are_required_with_messages(alice, in_app):
    r = upload(alice, phone_jpeg(), side="middle")
    assert r.status_code == 400 and "Please choose left or right." in text_of(r)
    r = alice.post(
        "/patient/photos",
        data={"side": "left", "region": "calf", "view": "inner"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "Please take a photo or choose one first." in text_of(r)
    r = upload(alice, phone_jpeg(), note="x" * 501)
    assert r.status_code == 400 and "under 500 characters" in text_of(r)
    assert photo_ids(in_app) == []


def test_upload_needs_a_csrf_token(alice, app, in_app):
    app.config["WTF_CSRF_ENABLED"] = True
    assert upload(alice, phone_jpeg()).status_code == 400
    assert photo_ids(in_app) == [] and stored_files(app) == []


def test_a_replayed_upload_is_stored_once(alice, in_app):
    for _ in range(2):
        assert upload(alice, phone_jpeg(), client_key="k-123").status_code == 303
    assert len(photo_ids(in_app)) == 1


def test_another_photo_under_a_key_seen_before_is_its_own_photo(alice, in_app):
    """A photo form restored with its key (a browser's back-forward cache) and another
    photo chosen: "saved" came back for the first photo while the new one was lost
    (adversarial review 2026-12-07, as S4 for check-ins)."""
    first, other = phone_jpeg((1200, 900)), phone_jpeg((900, 1200))
    assert upload(alice, first, client_key="k-1").status_code == 303
    assert upload(alice, other, client_key="k-1").status_code == 303
    assert len(photo_ids(in_app)) == 2
    # Each is still stored once when sent again under that key.
    assert upload(alice, other, client_key="k-1").status_code == 303
    assert upload(alice, first, client_key="k-1").status_code == 303
    assert len(photo_ids(in_app)) == 2
    assert_rows_match_files(in_app)


def test_daily_quota_refuses_with_a_message_and_keeps_older_photos(alice, app, in_app):
    app.config["PHOTO_MAX_PER_DAY"] = 2
    small = phone_jpeg((200, 150))
    assert upload(alice, small).status_code == 303
    assert upload(alice, small).status_code == 303
    r = upload(alice, small)
    assert r.status_code == 400 and "the most for one day" in text_of(r)
    assert len(photo_ids(in_app)) == 2
    assert_rows_match_files(in_app)


def test_before_photos_are_labelled_and_linked_from_the_checklist(client, world, in_app):
    login(client, BOB)
    checklist = client.get("/patient/checklist").get_data(as_text=True)
    assert 'href="/patient/photos/new"' in checklist
    assert 'Add a "before" photo' in text_of(client.get("/patient/photos/new"))
    assert upload(client, phone_jpeg((200, 150))).status_code == 303
    photo = in_app(lambda: db.session.scalar(sa.select(Photo)))
    assert (photo.phase, photo.day) == ("before", -1)
    assert "Fri 20 Nov 2026 · Before treatment" in text_of(client.get("/patient/photos"))


def test_new_photo_page_shows_the_last_photo_of_the_site_as_a_guide(alice, in_app):
    upload(alice, phone_jpeg((200, 150)), side="right", region="knee", view="front")
    (pid,) = photo_ids(in_app)
    page = alice.get("/patient/photos/new?site=right-knee-front").get_data(as_text=True)
    assert re.search(rf'<img id="ghost-img"[^>]* src="/patient/photos/{pid}/image"', page)
    assert "right-knee-front" in page  # the map of guides for the script
    assert "Daylight or bright, even light" in page
    other = alice.get("/patient/photos/new?site=left-calf-inner").get_data(as_text=True)
    assert 'id="ghost" hidden' in other


# ------------------------------------------------------------------ web: who sees what


def _photo_of(client, in_app, email: str, **fields) -> int:
    login(client, email)
    assert upload(client, phone_jpeg((200, 150)), **fields).status_code == 303
    client.post("/logout")
    return max(photo_ids(in_app))


PATIENT_URLS = [
    ("GET", "/patient/photos/{id}"),
    ("GET", "/patient/photos/{id}/image"),
    ("GET", "/patient/photos/{id}/thumb"),
    ("POST", "/patient/photos/{id}/delete"),
]
CLINIC_URLS = [
    ("GET", "/clinic/photos/{id}/image"),
    ("GET", "/clinic/photos/{id}/thumb"),
    ("GET", "/clinic/patients/{patient}/photos"),
    ("GET", "/clinic/patients/{patient}/photos/compare"),
]


def test_nobody_else_reaches_a_photo_by_any_url(app, world, in_app):
    pid = _photo_of(app.test_client(), in_app, ALICE)
    for actor in (None, BOB, CARA, DOC1, DOC2):
        client = app.test_client()
        if actor:
            login(client, actor)
        for method, template in PATIENT_URLS + CLINIC_URLS:
            url = template.format(id=pid, patient=world.patient_a)
            r = client.open(url, method=method, data={"confirm": "yes"})
            if actor is None and url.endswith(("/image", "/thumb")):
                assert r.status_code == 404, url  # photo files: not even a sign-in redirect
            elif actor is None:
                assert r.status_code == 302 and r.headers["Location"].startswith("/login")
            elif actor == DOC1 and url.startswith("/clinic"):
                assert r.status_code == 200, url
                continue
            else:
                assert r.status_code == 404, (actor, url)
            assert r.data[:2] != b"\xff\xd8"
            assert b"Alice" not in r.data
    # The patient's own listings never show another patient's photo either.
    client = app.test_client()
    login(client, CARA)
    assert f"/{pid}/" not in client.get("/patient/photos").get_data(as_text=True)
    assert f"/{pid}/" not in client.get("/patient/diary").get_data(as_text=True)
    assert f"/{pid}/" not in client.get("/patient/photos/compare").get_data(as_text=True)
    assert photo_ids(in_app) == [pid]  # nobody deleted it


def test_compare_cannot_pull_in_another_patients_photo_by_id(app, world, in_app):
    cara_photo = _photo_of(app.test_client(), in_app, CARA)
    client = app.test_client()
    login(client, ALICE)
    upload(client, phone_jpeg((200, 150)))
    page = client.get(f"/patient/photos/compare?site=left-calf-inner&a={cara_photo}")
    assert f"/{cara_photo}/" not in page.get_data(as_text=True)


def test_clinician_views_are_audited_and_refusals_too(app, world, in_app):
    pid = _photo_of(app.test_client(), in_app, ALICE)
    client = app.test_client()
    login(client, DOC1)
    patient_page = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f"/clinic/patients/{world.patient_a}/photos" in patient_page
    listing = client.get(f"/clinic/patients/{world.patient_a}/photos")
    assert f"/clinic/photos/{pid}/thumb" in listing.get_data(as_text=True)
    assert client.get(f"/clinic/photos/{pid}/image").status_code == 200
    events = in_app(
        lambda: [
            (e.action, e.detail, e.patient_id)
            for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]
    )
    assert ("view", "photos, page 1", world.patient_a) in events
    assert ("view", f"photo #{pid}", world.patient_a) in events

    other = app.test_client()
    login(other, DOC2)
    assert other.get(f"/clinic/photos/{pid}/image").status_code == 404
    refused = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.id)
        )
    )
    assert refused.detail == f"view photo #{pid}" and refused.patient_id is None


def test_compare_puts_two_dates_of_one_site_side_by_side(app, world, in_app, clock):
    client = app.test_client()
    login(client, ALICE)
    upload(client, phone_jpeg((200, 150)), note="first")
    clock.advance(days=25)
    login(client, ALICE)  # idle sessions end after 14 days
    upload(client, phone_jpeg((200, 150)), note="day 28")
    upload(client, phone_jpeg((200, 150)), side="right")
    first, latest, _ = photo_ids(in_app)
    page = client.get("/patient/photos/compare?site=left-calf-inner")
    html = page.get_data(as_text=True)
    assert f"/patient/photos/{first}/image" in html and f"/patient/photos/{latest}/image" in html
    assert "Day 3 after treatment" in text_of(page) and "Day 28 after treatment" in text_of(page)

    doc = app.test_client()
    login(doc, DOC1)
    url = f"/clinic/patients/{world.patient_a}/photos/compare?site=left-calf-inner"
    html = doc.get(f"{url}&a={latest}&b={first}").get_data(as_text=True)
    assert f"/clinic/photos/{first}/image" in html and f"/clinic/photos/{latest}/image" in html
    details = in_app(lambda: list(db.session.scalars(sa.select(AuditEvent.detail))))
    assert f"compare photos #{latest} and #{first}" in details


# ------------------------------------------------------------------ deleting


def test_delete_needs_confirmation_then_removes_row_and_files(alice, app, in_app):
    upload(alice, phone_jpeg((200, 150)))
    (pid,) = photo_ids(in_app)
    page = alice.get(f"/patient/photos/{pid}").get_data(as_text=True)
    assert f'action="/patient/photos/{pid}/delete"' in page
    r = alice.post(f"/patient/photos/{pid}/delete", data={})
    assert r.status_code == 303 and photo_ids(in_app) == [pid]
    r = alice.post(f"/patient/photos/{pid}/delete", data={"confirm": "yes"})
    assert r.status_code == 303
    assert photo_ids(in_app) == [] and stored_files(app) == []
    assert alice.get(f"/patient/photos/{pid}/image").status_code == 404


# ------------------------------------------------------------------ durability


@pytest.mark.parametrize("stage", ["temp-written", "fsynced", "renamed", "stored"])
def test_a_crash_before_commit_leaves_no_row_and_the_sweeper_removes_the_files(
    alice, app, in_app, stage
):
    app.config["PHOTO_CRASH_AT"] = stage
    with pytest.raises(SimulatedCrash):
        upload(alice, phone_jpeg((200, 150)))
    app.config["PHOTO_CRASH_AT"] = None
    assert photo_ids(in_app) == []
    assert stored_files(app)  # what a killed process leaves behind...
    assert in_app(photos.sweep, 60) == 0  # ...is kept while it may be an upload in flight
    assert in_app(photos.sweep, 0) >= 1
    assert stored_files(app) == []
    assert upload(alice, phone_jpeg((200, 150))).status_code == 303  # and all still works
    assert_rows_match_files(in_app)


def test_a_crash_after_commit_keeps_a_complete_photo(alice, app, in_app):
    app.config["PHOTO_CRASH_AT"] = "committed"
    with pytest.raises(SimulatedCrash):
        upload(alice, phone_jpeg((200, 150)))
    app.config["PHOTO_CRASH_AT"] = None
    (pid,) = photo_ids(in_app)
    assert_rows_match_files(in_app)
    assert in_app(photos.sweep, 0) == 0
    assert alice.get(f"/patient/photos/{pid}/image").status_code == 200


def test_an_ordinary_error_before_commit_removes_the_files_at_once(alice, app, in_app, monkeypatch):
    def broken_flush(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(db.session, "flush", broken_flush)
    r = upload(alice, phone_jpeg((200, 150)))
    monkeypatch.undo()
    assert r.status_code == 500
    assert photo_ids(in_app) == [] and stored_files(app) == []


def test_an_altered_file_is_never_served(alice, app, in_app, runner, caplog):
    upload(alice, phone_jpeg((200, 150)))
    (pid,) = photo_ids(in_app)
    key = in_app(lambda: db.session.get(Photo, pid).full_key)
    with open(os.path.join(app.config["PHOTO_STORAGE_DIR"], key), "ab") as f:
        f.write(b"<script>alert(1)</script>")
    r = alice.get(f"/patient/photos/{pid}/image")
    # A handled 404 (app/errors.py: a file a restore could bring back), not a 500: the
    # <img>'s placeholder picture, never the altered bytes; the id is logged at ERROR.
    assert r.status_code == 404 and r.mimetype == "image/svg+xml"
    assert b"alert(1)" not in r.data and b"<script" not in r.data
    assert "no-store" in r.headers["Cache-Control"]
    assert any(
        rec.levelno == logging.ERROR and f"photo #{pid}:" in rec.getMessage()
        for rec in caplog.records
    )
    assert in_app(photos.verify_all) == [pid]
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output


def test_cli_sweeps_and_verifies(app, world, in_app, runner):
    pid = _photo_of(app.test_client(), in_app, ALICE)
    root = app.config["PHOTO_STORAGE_DIR"]
    orphan = LocalPhotoStore(root).put(b"left over")
    old = time.time() - timedelta(hours=2).total_seconds()
    os.utime(os.path.join(root, orphan.key), (old, old))
    assert "removed 1 unreferenced" in runner.invoke(args=["photos", "sweep"]).output
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 0 and "all photo files match" in result.output
    key = in_app(lambda: db.session.get(Photo, pid).thumb_key)
    os.remove(os.path.join(root, key))
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output


def test_photos_live_outside_static_and_the_folder_is_not_served(app, alice, in_app):
    upload(alice, phone_jpeg((200, 150)))
    root = os.path.realpath(app.config["PHOTO_STORAGE_DIR"])
    assert not root.startswith(os.path.realpath(app.static_folder))
    name = stored_files(app)[0]
    for url in (f"/static/{name}", f"/photos/{name}", f"/instance/photos/{name}", "/photos/"):
        assert alice.get(url).status_code == 404
    assert in_app(count, Photo) == 1


def test_default_storage_is_the_instance_folder(app):
    app.config["PHOTO_STORAGE_DIR"] = None
    with app.app_context():
        assert photos.store().root == os.path.join(app.instance_path, "photos")
    assert pillow_heif.__version__


def test_a_folder_in_place_of_a_photo_file_is_a_handled_404(alice, app, in_app, runner):
    """Anything but "file not found" (a folder in its place, no permission) was an
    unhandled 500 (an adversarial test): it is damage like any other."""
    upload(alice, phone_jpeg((200, 150)))
    (pid,) = photo_ids(in_app)
    key = in_app(lambda: db.session.get(Photo, pid).thumb_key)
    path = os.path.join(app.config["PHOTO_STORAGE_DIR"], key)
    os.remove(path)
    os.mkdir(path)
    r = alice.get(f"/patient/photos/{pid}/thumb")
    assert r.status_code == 404 and r.mimetype == "image/svg+xml"
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output
