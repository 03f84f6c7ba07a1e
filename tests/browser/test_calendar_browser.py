"""The calendar section of the Reminders page and the new-link page in a real browser at
320 px with CSRF on (issue 20 point 3): download the file, subscribe, copy the link,
reload (no second link), stop it (an empty calendar). Nothing scrolls sideways and no
word breaks inside itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import CalendarLink
from app.services import demo
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_review17_widths_browser import BROKEN_WORDS
from tests.browser.test_today_browser import sign_in

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
NARROW = {"width": 320, "height": 640}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def _fits(page: Page) -> None:
    assert page.evaluate(FITS)
    assert page.evaluate(BROKEN_WORDS) == []


def test_download_subscribe_and_stop_at_320px(page: Page, app, live_server, js_errors):
    app.config["WTF_CSRF_ENABLED"] = True
    base = live_server.url
    page.set_viewport_size(NARROW)
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders#calendar-title")
    expect(page.get_by_role("heading", name="Your calendar")).to_be_visible()
    _fits(page)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download (.ics)").click()
    body = Path(info.value.path()).read_bytes()
    summaries = {str(e["SUMMARY"]) for e in Calendar.from_ical(body).walk("VEVENT")}
    assert summaries <= {"Clinic appointment", "Aftercare"} and summaries

    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Your calendar link")).to_be_visible()
    _fits(page)
    link = page.get_by_label("Calendar link").input_value()
    assert link.startswith(f"{base}/patient/calendar/feed/") and link.endswith(".ics")
    webcal = page.get_by_role("link", name="Add to my calendar").get_attribute("href")
    assert webcal == "webcal://" + link.split("://", 1)[1]
    # The feed as a calendar app fetches it: no cookie.
    calendar_app = page.context.browser.new_context()
    feed = calendar_app.request.get(link)
    assert feed.status == 200 and feed.headers["cache-control"] == "no-store, private"
    # A reload of the page makes no other link: it was a redirect after the POST, and the
    # link is shown once, so the reload lands on Reminders.
    page.reload()
    expect(page.get_by_role("heading", name="Your calendar")).to_be_visible()
    assert calendar_app.request.get(link).status == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarLink)) == 1

    expect(page.get_by_role("button", name="Stop the link")).to_be_visible()
    expect(page.get_by_role("button", name="Make a new link")).to_be_visible()
    _fits(page)
    page.get_by_role("button", name="Stop the link").click()
    expect(page.get_by_text("Your calendar link is stopped")).to_be_visible()
    _fits(page)
    # A stopped link answers an empty calendar for a while, so the subscription clears.
    stopped = calendar_app.request.get(link)
    assert stopped.status == 200 and Calendar.from_ical(stopped.body()).walk("VEVENT") == []
    calendar_app.close()
    assert js_errors == []


# Every URL the service worker's caches hold, after the page fetched the calendar and a
# link's feed through it.
CACHED_URLS = """async (paths) => {
  for (const path of paths) { await fetch(path, {credentials: "same-origin"}); }
  const urls = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) { urls.push(request.url); }
  }
  return urls;
}"""


def test_the_service_worker_keeps_no_calendar(page: Page, live_server, js_errors):
    base = live_server.url
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    wait_for_sw_control(page)
    page.get_by_role("button", name="Subscribe").click()
    link = page.get_by_label("Calendar link").input_value()
    wait_for_sw_control(page)
    urls = page.evaluate(CACHED_URLS, ["/patient/calendar.ics", link])
    assert urls, "the service worker cached nothing at all: the check would prove nothing"
    assert [u for u in urls if "calendar" in u] == []
    assert js_errors == []
