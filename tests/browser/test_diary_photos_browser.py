"""The clinician's diary of a patient who sent more photos in a day than it shows (issue
22 point 5): four thumbnails, the "See all" link and the "not shown" note fit 320 and
1366 px without sideways scroll or broken words, and the thumbnails, loading lazily
into their reserved boxes, move nothing on the page (no layout shift)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Patient
from app.models import User
from app.services import demo
from app.services.review.patient_record import DAY_PHOTOS
from tests.browser.test_review17_widths_browser import BROKEN_WORDS
from tests.browser.test_triage_browser import sign_in
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload

DAY3 = "day3@demo.sclerocare.example"
SENT = DAY_PHOTOS + 3  # the demo's day-3 patient has photos already: these add to them

# Layout shifts since the page began (buffered), as Lighthouse's CLS counts them.
SHIFTS = """() => new Promise((resolve) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(total), 300);
})"""
# Where an element sits on the page (not in the window, which scrolls).
TOP = "(e) => e.getBoundingClientRect().top + window.scrollY"
# Every thumbnail of the diary has arrived (scrolling brings the lazy ones in).
LOADED = """() => [...document.querySelectorAll('.day-photos img')]
  .every((img) => img.complete && img.naturalWidth > 0)"""


def _photos_for_day3(app) -> int:
    """``SENT`` photos from the day-3 patient, portrait and landscape, all today."""
    csrf = app.config["WTF_CSRF_ENABLED"]
    app.config["WTF_CSRF_ENABLED"] = False  # the test client posts the uploads directly
    try:
        client = app.test_client()
        login(client, DAY3, demo.PATIENT_PASSWORD)
        for n in range(SENT):
            size = (600, 800) if n % 2 else (800, 600)
            assert upload(client, phone_jpeg(size, orientation=1)).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = csrf
    with app.app_context():
        return db.session.scalar(
            sa.select(Patient.id).join(User, User.id == Patient.user_id).where(User.email == DAY3)
        )


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 1366])
def test_a_day_of_many_photos_fits_and_does_not_shift(browser, app, clock, live_server, width):
    patient = _photos_for_day3(app)
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The thumbnails are held back until the page has been measured, as on a slow
    # network: a thumbnail without a reserved box would push what follows when it comes.
    held: list = []
    holding = [True]

    def hold(route) -> None:  # noqa: ANN001 - Playwright's Route
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/clinic/photos/*/thumb?*", hold)
    try:
        sign_in(page, live_server.url, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/clinic/patients/{patient}")
        more = page.locator(".day-photos-more").first
        assert "See all" in more.inner_text() and "not shown here" in more.inner_text()
        counts = page.eval_on_selector_all(
            ".day-photos", "(lists) => lists.map((l) => l.querySelectorAll('img').length)"
        )
        assert counts and max(counts) == DAY_PHOTOS, counts
        more.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        assert held, "no thumbnail was asked for"
        before = more.evaluate(TOP)
        holding[0] = False
        for route in held:
            route.continue_()
        page.mouse.wheel(0, 20_000)
        page.wait_for_function(LOADED)
        assert more.evaluate(TOP) == before  # nothing above it moved as they arrived
        assert page.evaluate(SHIFTS) == 0
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px sideways scroll"
        assert page.evaluate(BROKEN_WORDS) == []
    finally:
        context.close()
