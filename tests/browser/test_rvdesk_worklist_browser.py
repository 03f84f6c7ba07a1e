"""Review of the desk's worklist in Chromium (issue 19 point 1): an unattended dashboard
that the idle sign-out ends leaves the screen for the sign-in page, instead of showing
patients' names (and polling nothing) until someone touches it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_triage_browser import sign_in
from tests.browser.test_worklist_refresh_browser import DESK

pytestmark = pytest.mark.browser


def test_an_idle_dashboard_goes_to_the_sign_in_page(browser, app, clock, live_server):
    app.config["SCLERO_WORKLIST_POLL_SECONDS"] = 1
    base = live_server.url
    context = browser.new_context(viewport=DESK)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(f"{base}/clinic/")
        expect(page.locator("#worklist")).to_be_visible()
        clock.advance(minutes=16)  # nobody at the desk: the polls must not keep it open
        expect(page).to_have_url(f"{base}/login?next=%2Fclinic%2F", timeout=15_000)
        assert page.locator("#worklist").count() == 0
    finally:
        context.close()
    assert errors == []
