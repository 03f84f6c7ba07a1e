"""Issue 14 point 3 in Chromium at phone size: on a Sunday at 04:22 a patient with calf
pain is sent to the out-of-hours line first (a tel: link), told when the clinic opens,
and the page fits a 320 px screen."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_triage_browser import CALF
from tests.browser.test_triage_browser import answer_checkin
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SUNDAY_0422 = datetime(2026, 12, 6, 4, 22, tzinfo=UTC)  # London is on GMT: 04:22 local


@pytest.fixture
def sunday_night(clock):
    # Set before the demo clinic and the live server are made, so all agree on the time.
    clock.now = SUNDAY_0422
    return clock


def test_closed_clinic_sends_calf_pain_to_nhs_111_first(
    sunday_night, page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    demo_patient(app, clock, f"sunny@{demo.DOMAIN}", "Sunny Sunday", day=5)
    sign_in(page, base, f"sunny@{demo.DOMAIN}", PASSWORD, clock())
    answer_checkin(page, base, yes=CALF, pain="3", bruising="A little")

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Please call NHS 111 for advice")
    advice = page.get_by_role("alert")
    expect(advice).to_contain_text("The clinic is closed now.")
    expect(advice).to_contain_text("The clinic opens at 08:30 tomorrow.")
    calls = advice.locator("a[href^='tel:']")
    expect(calls.first).to_have_attribute("href", "tel:111")
    expect(calls.first).to_contain_text("Call NHS 111: 111")
    expect(advice.get_by_role("link", name=re.compile(r"^Call Demo Vein Clinic"))).to_have_count(1)
    # The out-of-hours button is the first call button on the page, above the clinic's.
    first_box = calls.first.bounding_box()
    clinic_box = advice.get_by_role(
        "link", name=re.compile(r"^Call Demo Vein Clinic")
    ).bounding_box()
    assert first_box["y"] < clinic_box["y"]
    page.set_viewport_size({"width": 320, "height": 700})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a 320 px screen"
    page.screenshot(path=str(artifacts / "closed-clinic-same-day-320.png"), full_page=True)
    assert js_errors == []
