"""Review of issue 17 point 5 in Chromium: every email page (forgot password, its error
and sent states, the reset page, its error and unusable states, the unsubscribe confirm,
done and invalid pages, the Reminders page's email choice) at 320, 390 and 1366 px: no
sideways scroll, no word broken inside itself, axe clean where axe is installed, with
CSRF on and a long, hyphenated, accented address typed in.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import advancing
from app.extensions import db
from app.models import Patient
from app.models import User
from app.services import demo
from app.services.notify import dispatch
from app.services.notify.email_prefs import unsubscribe_url
from tests.browser.test_review17_widths_browser import _check
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_today_browser import sign_in
from tests.smtp_double import links_in

pytestmark = pytest.mark.browser

DAY3 = f"day3@{demo.DOMAIN}"
LONG = "maximiliane.oberhauser-zwillingsberger.praxisverwaltung@patients.example"


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def test_email_pages_fit_every_width(browser, app, clock, live_server, smtp_server, artifacts):
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    page = _new_page(browser, js_errors)
    try:
        page.goto(f"{base}/forgot-password")
        _check(page, "forgot", artifacts, problems)
        page.get_by_label("Your email").fill("not an email " + "x" * 80)
        # A check of the page before its answer arrives reads a document mid-swap.
        with page.expect_navigation():
            page.get_by_role("button", name="Email me a link").click()
        _check(page, "forgot (error)", artifacts, problems)
        page.get_by_label("Your email").fill(LONG)
        page.get_by_role("button", name="Email me a link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        _check(page, "forgot (sent)", artifacts, problems)

        page.goto(f"{base}/forgot-password")
        page.get_by_label("Your email").fill(DAY3)
        with page.expect_navigation():
            page.get_by_role("button", name="Email me a link").click()
        with app.app_context():
            dispatch.run_until_empty(NoPush(), advancing(clock()))
        link = next(u for u in links_in(smtp_server.to(DAY3)[-1]) if "/reset/" in u)
        assert link.startswith(f"{base}/reset/")
        reset = link
        page.goto(reset)
        _check(page, "reset", artifacts, problems)
        page.get_by_label("New password").fill("short")
        page.get_by_label("Type it again").fill("short")
        # A check of the page before its answer arrives reads a document mid-swap.
        with page.expect_navigation():
            page.get_by_role("button", name="Save new password").click()
        _check(page, "reset (error)", artifacts, problems)
        page.goto(f"{base}/reset/not-a-real-token")
        _check(page, "reset (unusable)", artifacts, problems)

        with app.app_context():
            pid = db.session.scalar(
                sa.select(Patient.id)
                .join(User, User.id == Patient.user_id)
                .where(User.email == DAY3)
            )
            url = unsubscribe_url(pid)  # the configured address: the live server's
        page.goto(url)
        _check(page, "unsubscribe", artifacts, problems)
        # A check of the page before its answer arrives reads a document mid-swap.
        with page.expect_navigation():
            page.get_by_role("button").first.click()
        _check(page, "unsubscribe (done)", artifacts, problems)
        page.goto(f"{base}/email/unsubscribe/forged.token")
        _check(page, "unsubscribe (invalid)", artifacts, problems)

        sign_in(page, base, DAY3, demo.PATIENT_PASSWORD)
        page.goto(f"{base}/patient/reminders")
        expect(page.get_by_role("heading", name="Reminders by email")).to_be_visible()
        _check(page, "reminders (email off)", artifacts, problems)
        page.get_by_label("By email, at most one a day").check()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_label("By email, at most one a day")).to_be_checked()
        _check(page, "reminders (email on)", artifacts, problems)
    finally:
        page.context.close()
    assert problems == [], "\n".join(problems)
    assert js_errors == []
