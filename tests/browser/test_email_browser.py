"""Email pages in a real browser at the narrowest phone width (320 px), with CSRF on:
"Forgot your password?" from the sign-in page to a new password, the link taken from
the email a real SMTP server on loopback received, and the Reminders page's email
choice. Nothing may scroll sideways.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.clock import advancing
from app.services import demo
from app.services.notify import dispatch
from tests.browser.test_today_browser import sign_in
from tests.smtp_double import links_in

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
NEW = "a brand new sentence password"
NARROW = {"width": 320, "height": 640}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def test_forgot_password_from_sign_in_to_a_new_password_at_320px(
    page: Page, app, clock, live_server, smtp_server, js_errors
):
    base = live_server.url
    page.set_viewport_size(NARROW)
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    # The click starts a navigation; measure only once the new page has its heading,
    # or the script may run while the document is still empty.
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.wait_for_load_state()
    assert page.evaluate(FITS)
    page.get_by_label("Your email").fill(DAY3)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert page.evaluate(FITS)
    with app.app_context():
        dispatch.run_until_empty(NoPush(), advancing(clock()))
    mail = smtp_server.to(DAY3)[-1]
    link = next(u for u in links_in(mail) if "/reset/" in u)
    assert link.startswith(f"{base}/reset/")  # the configured address (the live server's)
    page.goto(link)
    expect(page.get_by_label("New password")).to_be_visible()
    assert page.evaluate(FITS)
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Type it again").fill(NEW)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_text("Your password is changed")).to_be_visible()
    sign_in(page, base, DAY3, NEW)
    expect(page).to_have_url(f"{base}/patient/today")
    assert js_errors == []


def test_choosing_email_on_the_reminders_page_at_320px(page: Page, live_server, js_errors):
    base = live_server.url
    page.set_viewport_size(NARROW)
    sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    expect(page.get_by_role("heading", name="Reminders by email")).to_be_visible()
    page.get_by_label("By email, at most one a day").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Reminders come by email, at most one a day.")).to_be_visible()
    expect(page.get_by_label("By email, at most one a day")).to_be_checked()
    assert page.evaluate(FITS)
    assert js_errors == []
