"""The photo diary in a real browser at phone size: add a photo, see it in the diary,
get the last photo as a guide for the next one, and find no full-size photo or photo page
in any cache (only the patient's own thumbnails, issue 22 point 5)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_today_browser import sign_in

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
LOADED = "(img) => img.complete && img.naturalWidth > 0"
CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) urls.push(request.url);
  }
  return urls;
}"""


def leg_photo() -> bytes:
    """A phone-like JPEG with an orientation tag (shown upright after the upload)."""
    im = Image.new("RGB", (1200, 900), (205, 170, 150))
    im.paste((150, 60, 70), (0, 0, 300, 225))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def choose_site(page: Page, side: str, region: str, view: str) -> None:
    page.get_by_label("Side").select_option(side)
    page.get_by_label("Part of the leg").select_option(region)
    page.get_by_label("Seen from").select_option(view)


def test_patient_uploads_a_photo_on_a_phone_and_sees_it_in_the_diary(
    page: Page, live_server, artifacts, js_errors
):
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")

    page.get_by_role("link", name="Add a photo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a photo")
    choose_site(page, "left", "calf", "inner")
    page.locator("#photo-file").set_input_files(
        {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": leg_photo()}
    )
    expect(page.locator("#chosen")).to_contain_text("Photo chosen")
    expect(page.locator("#preview-img")).to_be_visible()
    page.screenshot(path=str(artifacts / "photo-chosen.png"), full_page=True)
    page.get_by_role("button", name="Save photo").click()

    expect(page).to_have_url(re.compile(r"/patient/photos#photo-\d+$"))
    expect(page.get_by_text("Photo saved: Left calf, inner side.")).to_be_visible()

    page.get_by_role("link", name="Diary", exact=True).click()
    expect(page).to_have_url(f"{base}/patient/diary")
    thumb = page.get_by_role("img", name=re.compile(r"^Left calf, inner side"))
    expect(thumb).to_be_visible()
    page.wait_for_function(LOADED, arg=thumb.element_handle())
    width, height = thumb.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert (width, height) == (240, 320)  # upright: portrait, 320 px long edge
    # The width/height attributes reserve the thumbnail's box before it arrives (no layout
    # shift, issue 22 point 5): a stylesheet's bare `aspect-ratio: auto` cancelled that.
    reserved = thumb.evaluate("(img) => getComputedStyle(img).aspectRatio")
    assert reserved.replace(" ", "") == "auto240/320", reserved
    page.screenshot(path=str(artifacts / "photo-in-diary.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    # The next photo of that site shows the last one faintly, for the same pose.
    thumb.click()
    page.get_by_role("link", name="New photo of this area").click()
    ghost = page.locator("#ghost-img")
    expect(ghost).to_be_visible()
    page.wait_for_function(LOADED, arg=ghost.element_handle())
    assert float(ghost.evaluate("(img) => getComputedStyle(img).opacity")) < 0.6
    choose_site(page, "right", "calf", "inner")  # no photo of that site yet: no guide
    expect(page.locator("#ghost")).to_be_hidden()
    page.screenshot(path=str(artifacts / "photo-guide.png"), full_page=True)

    page.evaluate("() => navigator.serviceWorker && navigator.serviceWorker.ready")
    cached = page.evaluate(CACHED_URLS)
    kept = [url for url in cached if "/patient/photos" in url or "/clinic/" in url]
    # Only thumbnails, each with the patient's key (sw.js THUMBS; issue 22 point 5).
    assert all(re.search(r"/patient/photos/\d+/thumb\?k=\w+$", url) for url in kept), cached
    assert js_errors == []


@pytest.fixture
def camera_page(browser):
    """A phone-sized page in a Chromium whose camera is a fake test pattern."""
    from tests.browser.conftest import CHROME_ARGS
    from tests.browser.conftest import CHROMIUM
    from tests.browser.conftest import PHONE

    fake = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROME_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
    )
    context = fake.new_context(viewport=PHONE, permissions=["camera"])
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
    fake.close()


def test_live_camera_shows_the_last_photo_over_the_view_and_saves_the_frame(
    camera_page: Page, live_server, artifacts
):
    page, base = camera_page, live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/photos/new")
    choose_site(page, "left", "knee", "front")
    expect(page.get_by_role("button", name=re.compile("Use the camera"))).to_be_hidden()
    page.locator("#photo-file").set_input_files(
        {"name": "knee.jpg", "mimeType": "image/jpeg", "buffer": leg_photo()}
    )
    page.get_by_role("button", name="Save photo").click()
    expect(page).to_have_url(re.compile(r"/patient/photos#photo-\d+$"))

    page.goto(f"{base}/patient/photos/new?site=left-knee-front")
    page.get_by_role("button", name="Use the camera with the last photo as a guide").click()
    expect(page.locator("#camera-video")).to_be_visible()
    expect(page.locator(".ghost-frame.live #ghost-img")).to_be_visible()
    page.wait_for_function("() => document.getElementById('camera-video').videoWidth > 0")
    page.screenshot(path=str(artifacts / "photo-live-guide.png"), full_page=True)
    page.get_by_role("button", name="Take it now").click()
    # Encoding the frame (canvas.toBlob) took over 5 s once in CI on a busy 2-core machine.
    expect(page.locator("#preview-img")).to_be_visible(timeout=20_000)
    expect(page.locator("#camera-video")).to_be_hidden()
    page.get_by_role("button", name="Save photo").click()
    expect(page.get_by_text("Photo saved: Left knee, front.")).to_be_visible()
    expect(page.locator(".photo-grid li")).to_have_count(2)
    assert errors == []
