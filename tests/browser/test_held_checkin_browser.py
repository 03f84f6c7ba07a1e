"""A check-in sent by the form after the 30-minute idle sign-out, in Chromium: the
sign-in page says it was not sent, emergency number first, and once signed in the form
comes back with exactly the answers chosen, ready to send (app/patient/held.py)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import CheckIn
from app.services import demo
from tests.browser.test_checkin_answers_browser import checked
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NOTE = "Sudden chest pain since lunch"


def test_a_check_in_sent_after_the_idle_sign_out_is_held_not_lost(
    page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    email = f"idle@{demo.DOMAIN}"
    demo_patient(app, clock, email, "Ida Idle", day=3)
    sign_in(page, base, email, PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/checkin")
    page.wait_for_load_state("load")
    for question in page.locator("section.warning-questions fieldset").all():
        said = question.locator("legend").inner_text().lower()
        answer = "Yes" if "chest pain" in said else "No"
        question.get_by_role("radio", name=answer, exact=True).check()
    pain = page.get_by_role("group", name=re.compile(r"^Pain where you were treated"))
    pain.get_by_role("radio", name="8", exact=True).check()
    page.locator("#note").fill(NOTE)
    answers = checked(page)

    clock.advance(minutes=31)  # the patient went to lie down: past the 30-minute idle
    page.get_by_role("button", name="Send check-in").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/patient/checkin$"))
    flashes = page.locator(".flashes")
    expect(flashes).to_contain_text("call 999 now: do not wait to sign in")
    expect(flashes).to_contain_text("your check-in has not reached your clinic yet")
    page.screenshot(path=str(artifacts / "held-checkin-signin.png"), full_page=True)

    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/patient/checkin")
    expect(page.locator("#error-summary")).to_contain_text(
        "You were signed out before this check-in was sent"
    )
    expect(page.locator("#urgent-advice")).to_contain_text("Call 999 now")
    assert checked(page) == answers
    expect(page.locator("#note")).to_have_value(NOTE)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn)) == 0

    page.get_by_role("group", name="Bruising").get_by_role("radio", name="None").check()
    page.get_by_label("No skin changes").check()
    page.get_by_role("button", name="Send check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Call 999 now")
    with app.app_context():
        stored = db.session.scalar(sa.select(CheckIn))
    assert stored.level == "emergency" and stored.answers["note"] == NOTE
    assert not js_errors, js_errors
