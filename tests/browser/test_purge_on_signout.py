"""What the phone kept for one person is gone when they sign out, and when someone
else signs in on the same browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control

pytestmark = pytest.mark.browser

KEPT_TODAY = """async () => {
  const cache = await caches.open('sclerocare-pages');
  const hit = await cache.match('/patient/today');
  return hit ? await hit.text() : null;
}"""


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("demo patient 2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")


def keep_today(page) -> str:
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # controlled by the service worker from here on
    wait_for_sw_control(page)
    page.reload()
    # The kept copy itself, read in the same poll that finds it: a background refresh
    # may replace it between two separate reads.
    return wait_for_js(page, f"({KEPT_TODAY})()")


def test_sign_out_purges_kept_pages(live_server, page):
    base = live_server.url
    sign_in(page, base, "day3@demo.sclerocare.example")
    assert "Day 3 after your treatment" in keep_today(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/login?signed_out=1")
    assert page.evaluate("caches.has('sclerocare-pages')") is False
    assert page.evaluate("localStorage.getItem('sc-user')") is None


KEPT_CHECKIN = KEPT_TODAY.replace("/patient/today", "/patient/checkin")


def test_another_person_signing_in_does_not_see_the_previous_pages(live_server, page):
    base = live_server.url
    sign_in(page, base, "day3@demo.sclerocare.example")
    assert "Day 3 after your treatment" in keep_today(page)
    # The check-in form was kept in the background too (refreshed at most every 30 min).
    kept = wait_for_js(page, f"({KEPT_CHECKIN})()")
    assert "Day 3 after your treatment" in kept
    page.context.clear_cookies()  # the first person's sign-in ends without signing out
    sign_in(page, base, "day0@demo.sclerocare.example")
    page.wait_for_timeout(500)
    kept = page.evaluate(KEPT_CHECKIN)
    assert kept is None or "Day 3 after your treatment" not in kept
    html = keep_today(page)
    assert "Treatment day" in html and "Day 3 after your treatment" not in html
