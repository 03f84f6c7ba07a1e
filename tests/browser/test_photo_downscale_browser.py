"""Photos travel light on a phone network (issue 19 point 8): the page makes a 12 MP photo
the stored size before sending it (app/static/js/photoshrink.js), and sends the original
only where it cannot.

Measured in Chromium on a link throttled to 1.6 Mbit/s both ways (DevTools network
emulation): the bytes the server received and the time from the tap on Save to "Photo
saved", with the page's downscaling and with it forced off (no createImageBitmap, no
canvas.toBlob: the path of a browser that cannot). The stored photos must be the same
size, upright, and carry no metadata (exiftool).
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from functools import lru_cache

import pillow_heif
import pytest
import sqlalchemy as sa
from PIL import Image
from PIL import ImageChops
from PIL import ImageDraw
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.adapters import imaging
from app.extensions import db
from app.models import Photo
from app.services import demo
from app.services.photos import storage
from tests.browser.test_checkin_photo_browser import open_checkin
from tests.browser.test_checkin_photo_browser import rows
from tests.browser.test_photo_browser import choose_site
from tests.browser.test_review17_widths_browser import _check as check_widths_and_axe
from tests.browser.test_today_browser import sign_in

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
LINK = 1.6e6 / 8  # bytes per second: "slow 4G" in Lighthouse terms
LATENCY_MS = 150
SAVED = re.compile(r"^Photo saved: ")
# What the page must not send (Chromium disabled the way a browser without them is).
NO_DOWNSCALE = "delete window.createImageBitmap; delete HTMLCanvasElement.prototype.toBlob;"
SHOW_SENDING = """() => {
  const line = document.querySelector("[data-photo-sending]");
  line.textContent = line.getAttribute("data-photo-sending");
}"""
# What the status line said while sending, and the page's width then, kept across the
# page change (a timed look could miss it on a busy machine).
WATCH_SENDING = """() => {
  const line = document.querySelector("[data-photo-sending]");
  new MutationObserver(() => {
    if (!line.textContent) { return; }
    sessionStorage.setItem("sending-said", line.textContent);
    sessionStorage.setItem("sending-width", document.documentElement.scrollWidth);
  }).observe(line, { childList: true, characterData: true, subtree: true });
}"""
METADATA_GROUPS = ("EXIF", "GPS", "XMP", "IPTC", "ICC_Profile", "MakerNotes", "Photoshop")


@lru_cache(maxsize=2)
def phone_photo(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A realistic 12 MP phone JPEG: skin-toned gradient, coarse texture and fine grain,
    thin red lines, a blue block in the stored top-left corner, EXIF orientation and GPS.
    About 4.5 MB, as a phone's (3-6 MB)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    base = Image.merge(
        "RGB",
        (
            gradient.point(lambda v: 150 + v * 90 // 255),
            gradient.point(lambda v: 110 + v * 70 // 255),
            gradient.point(lambda v: 95 + v * 60 // 255),
        ),
    )
    texture = Image.effect_noise((width // 8, height // 8), 40).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = ImageChops.add(texture, Image.effect_noise((width, height), 14), scale=2.0, offset=-64)
    im = ImageChops.add(base, Image.merge("RGB", (grain, grain, grain)), offset=-128)
    draw = ImageDraw.Draw(im)
    rng = random.Random(1)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        points = [(x, y)]
        for _ in range(8):
            x, y = x + rng.randint(-120, 120), y + rng.randint(-120, 120)
            points.append((x, y))
        draw.line(points, fill=(150, 40, 60), width=rng.choice([2, 3, 4]))
    draw.rectangle((0, 0, width // 10, height // 10), fill=(20, 60, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def plain_image(size: tuple[int, int], fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 160, 150)).save(buffer, fmt)
    return buffer.getvalue()


def see_through_png(size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A grainy PNG whose left half is half transparent (about 5 MB)."""
    grain = Image.effect_noise(size, 30)
    alpha = Image.new("L", size, 255)
    alpha.paste(128, (0, 0, size[0] // 2, size[1]))
    im = Image.merge("RGBA", (grain, Image.new("L", size, 60), Image.new("L", size, 40), alpha))
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


@contextmanager
def received(app, path: str = "/patient/photos"):
    """The request body sizes of every upload to ``path`` the server receives meanwhile."""
    bodies: list[int] = []
    inner = app.wsgi_app

    def counting(environ, start_response):  # noqa: ANN001, ANN202 - WSGI
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == path:
            bodies.append(int(environ.get("CONTENT_LENGTH") or 0))
        return inner(environ, start_response)

    app.wsgi_app = counting
    try:
        yield bodies
    finally:
        app.wsgi_app = inner


def latest_photo(app) -> tuple[Photo, bytes]:
    with app.app_context():
        photo = db.session.scalars(sa.select(Photo).order_by(Photo.id.desc())).first()
        db.session.expunge(photo)
        return photo, storage.read(photo, thumb=False)


def photo_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Photo))


def metadata_groups(jpeg: bytes, tmp_path) -> set[str]:  # noqa: ANN001
    """The exiftool groups in a JPEG other than the file's own description."""
    path = tmp_path / f"check-{len(jpeg)}.jpg"
    path.write_bytes(jpeg)
    out = subprocess.run(
        ["exiftool", "-j", "-G", "-a", str(path)], capture_output=True, check=True, text=True
    )
    return {key.split(":")[0] for key in json.loads(out.stdout)[0] if ":" in key}


def open_form(page: Page, base: str) -> None:
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/photos/new")
    choose_site(page, "left", "calf", "inner")


def throttle(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": LATENCY_MS,
            "downloadThroughput": LINK,
            "uploadThroughput": LINK,
        },
    )


def upload_timed(page: Page, name: str, data: bytes, at_once: bool) -> tuple[float, float]:
    """Choose the photo and tap Save, at once or once the preview shows (as the page
    asks: "Check it in the frame above, then press Save photo"). Answers the seconds
    from the file being in the input to the tap, and from the tap until the diary says
    it is saved. (Playwright's own time handing the file to the page is in neither.)"""
    page.locator("#photo-file").set_input_files(
        {"name": name, "mimeType": "image/jpeg", "buffer": data}
    )
    chosen = time.monotonic()
    if not at_once:
        expect(page.locator("#preview-img")).to_be_visible(timeout=60_000)
    tapped = time.monotonic()
    page.get_by_role("button", name="Save photo").click(no_wait_after=True)
    expect(page.get_by_text(SAVED)).to_be_visible(timeout=120_000)
    return tapped - chosen, time.monotonic() - tapped


def upload(page: Page, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    page.locator("#photo-file").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    page.get_by_role("button", name="Save photo").click(no_wait_after=True)


@pytest.fixture
def phone(browser):
    """A factory of fresh phone-sized pages; ``original=True`` takes away what the
    page needs to downscale."""
    contexts = []

    def make(original: bool = False, width: int = 390, axe: bool = False) -> Page:
        # bypass_csp lets axe's script in (test_review17_widths_browser does the same).
        context = browser.new_context(viewport={"width": width, "height": 844}, bypass_csp=axe)
        context.set_default_timeout(20_000)
        if original:
            context.add_init_script(NO_DOWNSCALE)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.mark.skipif(not shutil.which("exiftool"), reason="exiftool is not installed")
def test_a_12_mp_photo_is_sent_small_on_a_slow_link_and_stored_as_the_original(
    phone, live_server, app, tmp_path
):
    data = phone_photo()
    assert len(data) > 3_000_000
    assert {"EXIF"} <= metadata_groups(data, tmp_path)  # the test photo does carry GPS
    runs: dict[str, tuple[int, float, float]] = {}  # bytes, choose to tap, tap to saved
    stored = {}
    # The original once (about 25 s, whose preview shows at once); the downscaled photo
    # tapped once its preview shows, and tapped at once (the page's work in the time).
    for run, original, at_once in (
        ("downscaled", False, False),
        ("original", True, False),
        ("downscaled, tapped at once", False, True),
    ):
        page = phone(original=original)
        open_form(page, live_server.url)
        throttle(page)
        with received(app) as bodies:
            before_tap, seconds = upload_timed(page, "IMG_0001.jpg", data, at_once)
        assert len(bodies) == 1, bodies
        runs[run] = (bodies[0], before_tap, seconds)
        stored.setdefault(run.split(",")[0], latest_photo(app))
        assert page.js_errors == []  # type: ignore[attr-defined]

    print(f"\n12 MP JPEG ({len(data) / 1e6:.2f} MB) on 1.6 Mbit/s, {LATENCY_MS} ms latency:")
    for run, (sent, before_tap, seconds) in runs.items():
        print(
            f"  {run + ':':28} {sent / 1e3:5.0f} kB sent, {seconds:4.1f} s tap to saved"
            + ("" if "at once" in run else f" (preview shown {before_tap:.1f} s after choosing)")
        )
    (small, _, fast), (whole, _, slow) = runs["downscaled"], runs["original"]
    worst = runs["downscaled, tapped at once"][2]
    print(f"  {whole / small:.1f}x fewer bytes, {slow / fast:.1f}x faster ({slow / worst:.1f}x)")
    assert whole > len(data)  # the original path really sent the whole photo
    assert small <= 800_000
    assert slow / fast >= 4
    # Tapped at once, the page's own work (decode, scale, encode) is inside the time:
    # about 1.5 s on a busy shared 2-core machine, far less on a quiet one.
    assert slow / worst >= 2.5

    # The same stored photo either way: the server's size, upright, no metadata.
    for path, (photo, jpeg) in stored.items():
        with Image.open(io.BytesIO(jpeg)) as im:
            assert im.size == (1500, 2000), path  # 4000 x 3000 turned a quarter, halved
            assert (photo.width, photo.height) == im.size
            # The blue block drawn in the stored top-left corner is top-right once upright.
            r, g, b = im.convert("RGB").getpixel((im.width - 40, 40))
            assert b > 150 and r < 80, (path, (r, g, b))
        groups = metadata_groups(jpeg, tmp_path)
        assert not groups & set(METADATA_GROUPS), (path, groups)
    with (
        Image.open(io.BytesIO(stored["downscaled"][1])) as a,
        Image.open(io.BytesIO(stored["original"][1])) as b,
    ):
        # The same picture, not a shifted or mirrored one; how far apart, per channel
        # of YCbCr (the page's JPEG keeps colour at half resolution, as browsers do).
        diff = ImageChops.difference(a.convert("YCbCr"), b.convert("YCbCr"))
        means = [
            sum(i * n for i, n in enumerate(band.histogram())) / (a.width * a.height)
            for band in diff.split()
        ]
        shown = " ".join(f"{m:.1f}" for m in means)
        print(f"  mean difference of the stored photos (Y, Cb, Cr): {shown}")
        assert max(means) < 8, means


def test_the_page_makes_the_sizes_the_server_makes(phone, live_server):
    """photoshrink.js copies imaging.process's sizes (draft for JPEG, then _fit), so a
    downscaled photo is stored exactly as large as its original would be."""
    page = phone()
    open_form(page, live_server.url)
    sizes = [(4000, 3000), (4032, 3024), (6000, 4000), (3000, 4000), (2048, 1536), (2049, 999)]
    sizes += [(3891, 2000), (1946, 40), (4096, 3072), (5000, 3001), (2100, 2100), (9000, 5000)]
    for fmt in ("JPEG", "PNG"):
        for size in sizes:
            server = imaging.process(plain_image(size, fmt), imaging.Settings())
            page_size = page.evaluate(
                "([w, h, jpeg]) => window.scPhotoShrink.storedSize(w, h, jpeg, 2048)",
                [size[0], size[1], fmt == "JPEG"],
            )
            assert tuple(page_size) == (server.width, server.height), (fmt, size)
    # The page takes the server's settings from the form, not from a copy of its own.
    form = page.locator("form.photo-form")
    assert form.get_attribute("data-photo-edge") == "2048"
    assert form.get_attribute("data-photo-quality") == "88"
    assert form.get_attribute("data-photo-max-pixels") == "50000000"


def test_small_photos_png_heic_and_broken_files(phone, live_server, app, artifacts):
    """Photos at or under the stored size go as they are; a big PNG is made smaller (its
    transparency white, as the server would); a HEIC this Chromium cannot decode and
    broken files go as they are, and the server's message is shown."""
    page = phone(axe=True)
    open_form(page, live_server.url)
    form_url = page.url
    # With a photo chosen and the sending line filled in: fits 320-1366 px, axe clean.
    page.locator("#photo-file").set_input_files(
        {"name": "IMG_0004.jpg", "mimeType": "image/jpeg", "buffer": plain_image((64, 48))}
    )
    expect(page.locator("#preview-img")).to_be_visible()
    page.evaluate(SHOW_SENDING)
    problems: list[str] = []
    check_widths_and_axe(page, "add a photo", artifacts, problems)
    assert problems == []
    page.reload()
    choose_site(page, "left", "calf", "inner")

    def stored_after(name: str, data: bytes, mime: str = "image/jpeg") -> tuple[int, Photo, bytes]:
        with received(app) as bodies:
            upload(page, name, data, mime)
            expect(page.get_by_text(SAVED)).to_be_visible()
        assert len(bodies) == 1, bodies
        page.goto(form_url)
        choose_site(page, "left", "calf", "inner")
        return (bodies[0], *latest_photo(app))

    for size in ((2048, 1536), (40, 30)):  # exactly the stored size; tiny
        data = plain_image(size)
        sent, photo, _ = stored_after("small.jpg", data)
        assert len(data) < sent < len(data) + 4_000, (size, sent)  # the file as chosen
        assert (photo.width, photo.height) == size

    png = see_through_png()
    sent, photo, jpeg = stored_after("screen.png", png, "image/png")
    server = imaging.process(png, imaging.Settings())
    assert sent < len(png) / 3, (sent, len(png))
    assert (photo.width, photo.height) == (server.width, server.height) == (2048, 1536)
    with Image.open(io.BytesIO(jpeg)) as ours, Image.open(io.BytesIO(server.full)) as theirs:
        for at in ((100, 700), (1900, 700)):  # half transparent; opaque
            a, b = ours.getpixel(at), theirs.getpixel(at)
            assert all(abs(x - y) < 40 for x, y in zip(a, b, strict=True)), (at, a, b)
        assert ours.getpixel((100, 700))[1] > 120  # on white, not on black

    heic_buffer = io.BytesIO()
    pillow_heif.register_heif_opener()  # the app registers it only on its first photo
    Image.new("RGB", (2400, 1800), (200, 150, 140)).save(heic_buffer, "HEIF", quality=80)
    heic = heic_buffer.getvalue()
    sent, photo, _ = stored_after("IMG_0002.HEIC", heic, "image/heic")
    assert len(heic) < sent < len(heic) + 4_000  # sent as chosen: the server converts it
    assert (photo.width, photo.height) == (2048, 1536)

    before = photo_count(app)
    whole = phone_photo()
    for name, data, message in (
        ("broken.jpg", b"not a photo at all " * 500, imaging.NOT_A_PHOTO),
        ("cut.jpg", whole[: len(whole) // 2], imaging.DAMAGED),
        ("cut.png", png[: len(png) // 2], imaging.DAMAGED),
    ):
        with received(app) as bodies:
            upload(page, name, data)
            expect(page.locator("#photo-error")).to_have_text(message)
        assert len(bodies) == 1 and len(data) < bodies[0] < len(data) + 4_000, name
        page.goto(form_url)  # no earlier message left on the page to match the next one
        choose_site(page, "left", "calf", "inner")
    # Over the server's pixel cap: not decoded in the page, sent for the server to refuse.
    app.config["PHOTO_MAX_PIXELS"] = 10_000_000
    page.reload()
    choose_site(page, "left", "calf", "inner")
    with received(app) as bodies:
        upload(page, "huge.jpg", whole)
        expect(page.locator("#photo-error")).to_have_text(imaging.TOO_MANY_PIXELS)
    assert len(bodies) == 1 and bodies[0] > len(whole), bodies
    assert photo_count(app) == before
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_double_tap_at_320_px_stores_one_photo(phone, live_server, app):
    """Two quick taps on Save while the photo is still being made smaller: one upload,
    one photo; the page says it is sending and fits 320 px."""
    page = phone(width=320)
    open_form(page, live_server.url)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    throttle(page)  # as on a phone: the page is still there while it sends
    before = photo_count(app)
    with received(app) as bodies:
        page.locator("#photo-file").set_input_files(
            {"name": "IMG_0003.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
        )
        page.evaluate(WATCH_SENDING)
        save = page.get_by_role("button", name="Save photo")
        # Both taps in one go: with the photo made small the upload can finish (and the
        # page move on) before a second click from the test, which then found no button.
        save.evaluate("(button) => { button.click(); button.click(); }")
        expect(page.get_by_text(SAVED)).to_be_visible(timeout=60_000)
    said = page.evaluate("() => sessionStorage.getItem('sending-said')")
    assert said and said.startswith("Sending your photo"), said
    assert int(page.evaluate("() => sessionStorage.getItem('sending-width')")) <= 320
    assert len(bodies) == 1 and bodies[0] < 800_000, bodies
    assert photo_count(app) == before + 1
    assert page.js_errors == []  # type: ignore[attr-defined]


# What checkin.html needs for its photo to travel light too (that template belongs to
# another task): the server's settings on the form and this script. Added here by the
# test while the template lacks them; once it has them, the test uses the page as is.
CHECKIN_HOOK = """(settings) => {
  const form = document.querySelector("form.checkin-form");
  if (form.dataset.photoEdge) { return false; }
  form.dataset.photoEdge = settings[0];
  form.dataset.photoQuality = settings[1];
  form.dataset.photoMaxPixels = settings[2];
  return true;
}"""


def test_the_check_in_photo_is_made_small_with_its_hook(
    page: Page, app, clock, live_server, in_app
):
    open_checkin(page, live_server.url, app, clock, f"pia9@{demo.DOMAIN}")
    settings = [
        str(app.config[key])
        for key in ("PHOTO_LONG_EDGE", "PHOTO_JPEG_QUALITY", "PHOTO_MAX_PIXELS")
    ]
    if page.evaluate(CHECKIN_HOOK, settings):
        page.add_script_tag(url="/static/js/photoshrink.js")
    page.get_by_label("Side").select_option("right")
    page.get_by_label("Part of the leg").select_option("calf")
    page.get_by_label("Seen from").select_option("back")
    with received(app, "/patient/checkin") as bodies:
        page.locator("#photo-file").set_input_files(
            {"name": "IMG_0005.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
        )
        expect(page.locator("#photo-chosen")).to_have_text("Photo chosen: IMG_0005.jpg.")
        page.get_by_role("button", name="Send check-in").click(no_wait_after=True)
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Thank you, your check-in is sent", timeout=30_000
        )
    assert len(bodies) == 1 and bodies[0] < 800_000, bodies
    assert rows(in_app) == (1, 1)
    photo, _ = latest_photo(app)
    assert (photo.width, photo.height) == (1500, 2000)  # upright, the stored size
