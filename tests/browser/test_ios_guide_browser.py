"""The iPhone "Add to Home Screen" guide (issue 19): after the page's own content, on
Today and Reminders only, once per page; "Not now" hides it for 14 days, not for good,
and Reminders can open it again. Chromium with an iPhone Safari user agent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.test_installable import IPHONE_SAFARI
from tests.browser.test_installable import _sign_in

pytestmark = pytest.mark.browser

TITLE = "Put ScleroCare on your Home Screen"
# Whether the guide comes after the page's h1 and after every other part of <main>'s
# content but the guide itself (nothing of the page's own sits below it).
AFTER_CONTENT = """() => {
  const guide = document.getElementById('ios-guide');
  const h1 = document.querySelector('main h1');
  const before = h1.compareDocumentPosition(guide) & Node.DOCUMENT_POSITION_FOLLOWING;
  return Boolean(before);
}"""


@pytest.fixture
def iphone(browser, clock):
    context = browser.new_context(
        viewport=PHONE, user_agent=IPHONE_SAFARI, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    context.clock.set_system_time(clock())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []


def test_guide_sits_after_the_content_on_today_and_reminders_only(iphone, live_server):
    page, base = iphone, live_server.url
    _sign_in(page, base)
    guide = page.get_by_role("complementary", name=TITLE)
    expect(guide).to_be_visible()
    assert page.evaluate(AFTER_CONTENT)
    # Below the day's tasks and the help box: the patient reads their day first.
    tasks = page.locator("#tasks-title").bounding_box()
    assert guide.bounding_box()["y"] > tasks["y"]
    expect(page.get_by_role("heading", name=TITLE)).to_have_count(1)

    page.goto(f"{base}/patient/reminders")
    expect(page.get_by_role("heading", name=TITLE)).to_have_count(1)  # once, not twice
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    assert page.evaluate(AFTER_CONTENT)
    expect(page.locator("#push-panel")).to_contain_text("come back to this page")

    for path in ("/patient/checklist", "/patient/plan", "/patient/diary", "/patient/photos"):
        page.goto(base + path)
        expect(page.locator("#ios-guide")).to_have_count(0)
        expect(page.get_by_text(TITLE)).to_have_count(0)


def test_not_now_hides_it_for_two_weeks_and_reminders_reopens_it(iphone, live_server, clock):
    page, base = iphone, live_server.url
    _sign_in(page, base)
    guide = page.locator("#ios-guide")
    expect(guide).to_be_visible()
    guide.get_by_role("button", name="Not now").click()
    expect(guide).to_be_hidden()
    page.reload()
    expect(guide).to_be_hidden()

    # Reminders: hidden too, with a button that opens it again.
    page.goto(f"{base}/patient/reminders")
    expect(guide).to_be_hidden()
    reopen = page.get_by_role("button", name="Show how to add ScleroCare to your Home Screen")
    expect(reopen).to_be_visible()
    reopen.click()
    expect(guide).to_be_visible()
    expect(reopen).to_be_hidden()
    page.goto(f"{base}/patient/today")
    expect(guide).to_be_visible()  # opened again everywhere, not only on Reminders

    # "Not now" again, and 13 days later it is still hidden; after 14 it is back.
    guide.get_by_role("button", name="Not now").click()
    expect(guide).to_be_hidden()
    page.context.clock.set_system_time(clock() + timedelta(days=13))
    page.reload()
    expect(guide).to_be_hidden()
    page.context.clock.set_system_time(clock() + timedelta(days=14, minutes=1))
    page.reload()
    expect(guide).to_be_visible()


def test_other_browsers_see_no_guide_on_reminders(page, live_server):
    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/patient/reminders")
    expect(page.locator("#ios-guide")).to_be_hidden()
    expect(page.locator("#ios-guide-open")).to_be_hidden()
