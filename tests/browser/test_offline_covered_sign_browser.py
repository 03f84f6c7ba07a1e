"""Offline, a warning sign asked through the skin list is not held back by a blank
answer (review "rvclin" of issue 19 point 3; issue 14 point 6).

Since the skin list covers the skin-breakdown sign, ticking "A blister" is the "yes" to
it. Offline, the page used to let only a warning-question "yes" through its check of
the required answers, so a blister with bruising left blank showed "There is a
problem" and no advice until bruising was chosen. Now it is kept on the phone with the
same-day advice at once, and once online the server alerts the clinic from the refused
form (checkin_early.py) and shows it back with the advice first.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_offline_triage import _demo_patient_day1
from tests.browser.test_offline_triage import _stored
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

QUEUE = (
    "() => JSON.parse(localStorage.getItem('sc-queue-' + "
    "document.querySelector('meta[name=sc-user]').content) || '[]').length"
)


def test_offline_a_blister_with_bruising_blank_gets_the_advice_and_is_sent(
    page: Page, app, clock, live_server, in_app, js_errors
):
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today", "/patient/checkin"])

    page.context.set_offline(True)
    page.goto(f"{base}/patient/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("How are you today?")
    for group in page.locator("section.warning-questions fieldset").all():
        group.get_by_role("radio", name="No", exact=True).check()
    page.locator('input[name="pain"][value="2"]').check(force=True)
    page.get_by_label("A blister").check()  # bruising left blank
    page.get_by_role("button", name="Send check-in").click()

    advice = page.get_by_role("alert").filter(has_text="Please get advice today")
    expect(advice).to_contain_text("A blister")
    expect(page.locator("#error-summary")).to_have_count(0)
    assert page.evaluate(QUEUE) == 1

    page.context.set_offline(False)
    wait_for_js(page, f"() => ({QUEUE[6:]}) === 0", timeout=15_000)
    # The server refuses the form (bruising blank) but alerts the clinic at once, and
    # shows the form back with the advice above the problem.
    expect(page.locator("#urgent-advice")).to_contain_text("A blister")
    expect(page.locator("#error-summary")).to_contain_text("Choose how much bruising")
    assert in_app(_stored, patient_id) == ([], ["same_day"])
    assert js_errors == []
