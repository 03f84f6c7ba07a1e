"""'Download my data' on a phone (issue 20 points 1 and 5): the "Your data" section at
320 px as it says Preparing…, then Ready, the zip downloaded with the service worker in
control, and nothing of it in any cache the service worker keeps."""

from __future__ import annotations

import zipfile

import pytest

from app.clock import now
from app.services import demo
from app.services import export
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_photo_browser import CACHED_URLS
from tests.browser.test_review17_widths_browser import BROKEN_WORDS
from tests.browser.test_triage_browser import sign_in

DAY3 = f"day3@{demo.DOMAIN}"


def fits(page) -> None:  # noqa: ANN001
    page.set_viewport_size({"width": 320, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.evaluate(BROKEN_WORDS) == []


@pytest.mark.browser
def test_your_data_at_320px_preparing_ready_download(page, app, clock, live_server, js_errors):
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD, clock())
    page.wait_for_load_state()
    page.goto(f"{base}/patient/reminders#data-title")
    wait_for_sw_control(page)
    fits(page)
    page.get_by_role("button", name="Prepare my download").click()
    page.wait_for_load_state()
    assert page.locator("#export-state").inner_text().startswith("Preparing…")
    fits(page)
    with app.app_context():
        assert export.run_due(now).built == 1
    page.reload()
    assert "Ready" in page.locator("#export-state").inner_text()
    fits(page)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download my data").click()
    path = caught.value.path()
    with zipfile.ZipFile(path) as zf:
        assert "summary.html" in zf.namelist() and zf.testzip() is None
    page.reload()
    assert "has been used or has expired" in page.locator("#export-state").inner_text()
    assert not [u for u in page.evaluate(CACHED_URLS) if "/patient/export" in u]
    assert js_errors == []


@pytest.mark.browser
def test_a_stale_sign_in_confirms_at_320px_then_asks(page, app, clock, live_server, js_errors):
    """Checklist E6 on a phone: 20 minutes after signing in (never idle), "Prepare my
    download" goes to "Confirm it's you", which fits 320 px; the password brings the
    patient back to "Your data", where asking again works."""
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD, clock())
    page.wait_for_load_state()
    for _ in range(2):
        clock.advance(minutes=10)
        page.goto(f"{base}/patient/reminders#data-title")
    page.get_by_role("button", name="Prepare my download").click()
    page.wait_for_load_state()
    assert "/account/confirm" in page.url
    fits(page)
    page.get_by_label("Your password").fill(demo.PATIENT_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert "/patient/reminders" in page.url
    page.get_by_role("button", name="Prepare my download").click()
    page.wait_for_load_state()
    assert page.locator("#export-state").inner_text().startswith("Preparing…")
    assert js_errors == []
