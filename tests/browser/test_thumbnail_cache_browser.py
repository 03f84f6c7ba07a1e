"""Photo thumbnails are kept on the phone for the patient signed in, and for nobody else
(issue 22 point 5; docs/decisions/photo-thumbnail-cache.md).

The second visit to the photo diary downloads no thumbnail; signing out leaves none in
the browser; the next patient on the same browser gets none of the last one's, even when
the last one never signed out. What reaches the server is counted at the server itself
(a WSGI wrapper), so a thumbnail answered by the service worker's copy is told apart
from one downloaded.
"""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from app.services import demo
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_today_browser import sign_in
from tools.audit_seed import add_photos

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
DAY0 = f"day0@{demo.DOMAIN}"
THUMB = re.compile(r"^/patient/photos/(\d+)/thumb$")
KEPT = """async () => {
  if (!(await caches.has('sclerocare-thumbs'))) return [];
  const cache = await caches.open('sclerocare-thumbs');
  return (await cache.keys()).map((r) => r.url);
}"""
ALL_LOADED = """() => {
  const imgs = Array.from(document.querySelectorAll('.photo-grid img'));
  return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
}"""


class Counted:
    """The live server's app, counting the thumbnail requests that reach it."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.hits: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        found = THUMB.match(environ.get("PATH_INFO", ""))
        if found:
            with self.lock:
                self.hits.append(int(found.group(1)))
        return self.app(environ, start_response)

    def take(self) -> list[int]:
        with self.lock:
            hits, self.hits = self.hits, []
        return hits


@pytest.fixture
def counted(live_server) -> Counted:
    counter = Counted(live_server.server.app)
    live_server.server.app = counter
    return counter


def photo_ids(page) -> set[int]:  # noqa: ANN001
    urls = page.eval_on_selector_all(".photo-grid img", "(imgs) => imgs.map((i) => i.src)")
    return {int(re.search(r"/photos/(\d+)/thumb", url).group(1)) for url in urls}


def open_photos(page, base: str) -> set[int]:  # noqa: ANN001
    page.goto(f"{base}/patient/photos")
    wait_for_js(page, ALL_LOADED)
    return photo_ids(page)


def kept_ids(page) -> set[int]:  # noqa: ANN001
    return {int(re.search(r"/photos/(\d+)/thumb", url).group(1)) for url in page.evaluate(KEPT)}


def test_second_visit_downloads_no_thumbnail_and_sign_out_leaves_none(
    app, live_server, counted, page, js_errors
):
    base = live_server.url
    with app.app_context():
        add_photos(DAY3, 6, 3)
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/photos")
    wait_for_sw_control(page)
    shown = open_photos(page, base)  # controlled: downloads them once, and keeps them
    assert len(shown) == 6
    wait_for_js(page, f"({KEPT})().then((urls) => urls.length === 6)")
    assert kept_ids(page) == shown
    counted.take()

    assert open_photos(page, base) == shown
    assert counted.take() == []  # every thumbnail came from the phone's copy
    # Each kept URL carries the patient's key: a URL is one person's.
    assert all(re.search(r"/thumb\?k=[0-9a-f]{24}$", url) for url in page.evaluate(KEPT))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/login?signed_out=1")
    assert page.evaluate(KEPT) == []
    assert page.evaluate("caches.has('sclerocare-thumbs')") is False
    assert js_errors == []


def test_the_next_patient_on_the_browser_sees_none_of_the_last_ones_thumbnails(
    app, live_server, counted, page, js_errors
):
    base = live_server.url
    with app.app_context():
        add_photos(DAY3, 4, 3)
        add_photos(DAY0, 3, 0)
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/photos")
    wait_for_sw_control(page)
    first = open_photos(page, base)
    wait_for_js(page, f"({KEPT})().then((urls) => urls.length === 4)")
    first_urls = page.evaluate(KEPT)

    # The first patient's sign-in ends without "Sign out" (the phone is handed over).
    page.context.clear_cookies()
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_js(page, f"({KEPT})().then((urls) => urls.length === 0)")
    counted.take()
    second = open_photos(page, base)
    assert len(second) == 3 and not second & first
    assert sorted(counted.take()) == sorted(second)  # downloaded: nothing of theirs kept
    wait_for_js(page, f"({KEPT})().then((urls) => urls.length === 3)")
    assert kept_ids(page) == second
    # The first patient's thumbnail URLs, asked for now, come from the server, which
    # answers another patient's photo "not found", never from a copy on the phone.
    for url in first_urls:
        status = page.evaluate("(u) => fetch(u).then((r) => r.status)", url)
        assert status == 404, url
    assert js_errors == []


SIZES = """() => Array.from(document.querySelectorAll('.photo-grid img')).map((img) => [
  img.getBoundingClientRect().width, img.getBoundingClientRect().height,
  img.naturalWidth, img.naturalHeight,
  Number(img.getAttribute('width')), Number(img.getAttribute('height')),
])"""


@pytest.mark.parametrize("width", [320, 390, 1366])
def test_thumbnails_are_sized_to_their_slot(app, live_server, page, width):
    """The 320 px thumbnail is one to two and a half device pixels per CSS pixel of its
    slot at every width (sharp on a 2x phone, never several times the slot), and the
    width/height attributes are the served thumbnail's own, so its box is reserved
    before it arrives (CLS 0)."""
    base = live_server.url
    with app.app_context():
        add_photos(DAY3, 6, 3)  # landscape and portrait (tools/audit_seed.py: jpeg)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    open_photos(page, base)
    sizes = page.evaluate(SIZES)
    assert len(sizes) == 6
    assert {(w, h) for *_, w, h in sizes} == {(320, 240), (240, 320)}
    for shown_w, shown_h, natural_w, natural_h, attr_w, attr_h in sizes:
        assert (natural_w, natural_h) == (attr_w, attr_h)
        assert 1.25 <= natural_w / shown_w <= 2.5, (width, shown_w, natural_w)
        assert abs(shown_h - shown_w * natural_h / natural_w) < 1.5
    assert page.evaluate("document.documentElement.scrollWidth") <= width
