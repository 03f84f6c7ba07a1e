"""A check-in corrected while offline reaches the clinic as corrected (issues 14, 15).

Offline, the patient sends the check-in, sees it waits on the phone, changes an answer
on the same page (here: "yes" to severe pain at the injection site) and sends again.
Both sends are queued. Back online, the clinic must get the corrected answers: the
second send must not reuse the first one's client key, or the server takes it for a
replay of the first and silently keeps the answers the patient corrected.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from app.extensions import db
from app.models import CheckIn
from app.services import demo
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_offline_triage import _demo_patient_day1
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

QUEUE = (
    "() => localStorage.getItem('sc-queue-' + "
    "document.querySelector('meta[name=sc-user]').content) || '[]'"
)


def _answer_all(page: Page, yes_in_title: str | None) -> None:
    for group in page.locator("section.warning-questions fieldset").all():
        legend = group.locator("legend").inner_text()
        answer = "Yes" if yes_in_title and yes_in_title in legend else "No"
        group.get_by_role("radio", name=answer, exact=True).check()


def _latest(patient_id: int):
    checkin = db.session.scalar(sa.select(CheckIn).where(CheckIn.patient_id == patient_id))
    return None if checkin is None else (checkin.level, len(checkin.history))


def test_a_check_in_corrected_offline_reaches_the_clinic_corrected(
    page: Page, app, clock, live_server, in_app, js_errors
):
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today", "/patient/checkin"])

    page.context.set_offline(True)
    page.goto(f"{base}/patient/checkin")
    _answer_all(page, None)
    page.locator('input[name="pain"][value="2"]').check(force=True)
    page.get_by_label("A little").check()
    page.get_by_label("No skin changes").check()
    page.get_by_role("button", name="Send check-in").click()
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")

    # The patient notices the pain where the needle went in, and corrects the answer.
    _answer_all(page, "Severe or worsening pain")
    page.get_by_role("button", name="Send check-in").click()
    queued = page.evaluate(f"() => JSON.parse(({QUEUE})())")
    assert len(queued) == 2
    keys = [dict(p.split("=", 1) for p in q["body"].split("&"))["client_key"] for q in queued]
    assert keys[0] != keys[1], "the correction reuses the first send's key"

    page.context.set_offline(False)
    # Each page load sends what is still waiting; a check-in's answer is shown as a
    # page, which ends that round, so the second send goes with a later load.
    for _ in range(4):
        page.goto(f"{base}/patient/today")
        try:
            wait_for_js(page, f"() => ({QUEUE})() === '[]'", timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    assert page.evaluate(QUEUE) == "[]"
    assert in_app(_latest, patient_id) == ("same_day", 1)
    assert js_errors == []
