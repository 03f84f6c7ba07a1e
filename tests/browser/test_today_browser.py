"""The patient's Today page in a real browser: sign in with CSRF on, tick a task, reload.

These prove the browser harness end to end (Debian Chromium, live server, demo data)
and check the page fits a 320 px phone without sideways scrolling.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"

# Elements whose right edge passes the viewport, outermost first: the culprits when a
# page scrolls sideways. Used only to explain a failure.
OVERFLOWING = """(width) => Array.from(document.querySelectorAll('body *'))
  .filter((el) => el.getBoundingClientRect().right > width + 0.5)
  .slice(0, 10)
  .map((el) => {
    const r = el.getBoundingClientRect();
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + Array.from(el.classList).join('.') : '';
    return `${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)}px`;
  })"""


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_patient_ticks_a_task_and_it_is_still_ticked_after_reload(
    page: Page, live_server, artifacts, js_errors
):
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)

    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Day 3 after your treatment")
    row = page.locator("li#task-walks")
    expect(row).to_contain_text("Walk several times today")
    tick = row.locator("button.tick")
    expect(tick).to_have_attribute("aria-pressed", "false")

    tick.click()  # posts the form (CSRF token included) and follows the 303 back to Today
    expect(page).to_have_url(re.compile(r"/patient/today#task-walks$"))
    expect(tick).to_have_attribute("aria-pressed", "true")

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Day 3 after your treatment")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Walk several times today")
    expect(tick).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("heading", name="If something is wrong")).to_be_visible()

    page.screenshot(path=str(artifacts / "today-ticked.png"), full_page=True)
    assert js_errors == []


def test_today_has_no_sideways_scroll_on_a_320px_phone(page: Page, live_server, artifacts):
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Day 3 after your treatment")

    page.set_viewport_size({"width": 320, "height": 700})
    page.reload()
    expect(page.get_by_role("heading", name="If something is wrong")).to_be_visible()

    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > 320:
        page.screenshot(path=str(artifacts / "today-320-overflow.png"), full_page=True)
    assert width <= 320, f"Today scrolls sideways at 320 px: {page.evaluate(OVERFLOWING, 320)}"
