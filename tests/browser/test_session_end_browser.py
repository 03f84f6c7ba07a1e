"""When the server ends a sign-in session, the phone drops the pages it kept on its next
contact; unsent entries stay, and go once the patient is back in, with the remembered
phone's PIN too (issue 18 point 10; docs/decisions/session-lifetimes.md)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import TaskTick
from tests.browser.conftest import wait_for_js
from tests.browser.test_purge_on_signout import keep_today

pytestmark = pytest.mark.browser

DAY3 = "day3@demo.sclerocare.example"
DEMO_PASSWORD = "demo patient 2026"

# Every page kept in the pages cache, as paths ([] when the cache is gone).
KEPT = """async () => {
  if (!(await caches.has('sclerocare-pages'))) return [];
  const cache = await caches.open('sclerocare-pages');
  return (await cache.keys()).map((r) => new URL(r.url).pathname);
}"""


def sign_in(page, base: str, remember: bool = False) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(DAY3)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    if remember:
        page.get_by_label("Remember this phone").check()
    page.get_by_role("button", name="Sign in").click()


def choose_pin(page) -> None:
    page.get_by_label("Choose a PIN").fill("2580")
    page.get_by_label("Type it again").fill("2580")
    page.get_by_role("button", name="Save PIN").click()


def test_an_ended_session_drops_the_kept_pages_on_the_next_contact(
    live_server, page, clock, js_errors
):
    base = live_server.url
    sign_in(page, base)
    expect(page).to_have_url(f"{base}/patient/today")
    assert "Day 3 after your treatment" in keep_today(page)
    assert "/patient/today" in page.evaluate(KEPT)

    clock.advance(minutes=31)  # the server ends the session: 30 minutes idle
    page.goto(f"{base}/patient/plan")  # one contact: the service worker sees "signed out"
    expect(page).to_have_url(f"{base}/login?next=%2Fpatient%2Fplan")
    wait_for_js(page, f"({KEPT})().then((kept) => kept.length === 0)")
    # Offline now, a kept page is no longer there to be read.
    page.context.set_offline(True)
    page.goto(f"{base}/patient/today")
    assert "Day 3 after your treatment" not in page.content()
    assert js_errors == []


def test_an_offline_tick_survives_the_session_end_and_goes_after_the_pin(
    live_server, page, in_app, clock, js_errors
):
    base = live_server.url
    sign_in(page, base, remember=True)
    choose_pin(page)
    expect(page).to_have_url(f"{base}/patient/today")
    keep_today(page)

    page.context.set_offline(True)
    page.locator("#task-walks button.tick").click()
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")

    clock.advance(minutes=31)  # the session ends while the phone is offline
    page.context.set_offline(False)
    expect(page.locator("#sc-status")).to_contain_text(
        "Please sign in to send what you saved", timeout=15_000
    )
    wait_for_js(page, f"({KEPT})().then((kept) => kept.length === 0)")
    queued = page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('sc-queue-'))")
    assert queued and page.evaluate(f"localStorage.getItem('{queued[0]}')").count("walks") == 1

    page.goto(f"{base}/patient/today")
    expect(page).to_have_url(f"{base}/login/pin?next=/patient/today")
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    page.get_by_label("Your PIN").fill("2580")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.locator("#sc-status")).to_contain_text("Sent.", timeout=15_000)
    ticks = in_app(lambda: [(t.task_key, t.day) for t in db.session.scalars(sa.select(TaskTick))])
    assert ticks == [("walks", 3)]
    assert js_errors == []


def test_sign_out_still_says_so_after_clearing_cookies(live_server, page, js_errors):
    """Clear-Site-Data "cookies" must not swallow the message on the sign-in page."""
    base = live_server.url
    sign_in(page, base, remember=True)
    choose_pin(page)
    expect(page).to_have_url(f"{base}/patient/today")
    assert [c["name"] for c in page.context.cookies() if "device" in c["name"]]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/login?signed_out=1")
    expect(page.locator(".flashes")).to_contain_text("You have signed out.")
    assert not [c["name"] for c in page.context.cookies() if "device" in c["name"]]
    assert js_errors == []
