"""Triage end to end in Chromium: a patient reports one-sided calf swelling on day 5 and
sees the same-day advice, and a clinician then sees the alert at the top of the
dashboard and acknowledges it. An emergency answer shows "Call 999 now" first.

The patient answers on a phone-sized page; the clinician works in a separate browser
context (own cookies) at desktop size. CSRF is on, as in production.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Clinic
from app.services import demo
from tests.conftest import PASSWORD
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
CALF = "calf"  # the calf pain/swelling question and its alert both say "calf"


def sign_in(page: Page, base: str, email: str, password: str, now) -> None:
    # The device's clock agrees with the app's pinned one, as a real phone's would.
    page.context.clock.set_system_time(now)
    page.goto(f"{base}/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def demo_patient(app, clock, email: str, name: str, day: int) -> None:
    """A patient of the demo clinic, ``day`` days after treatment."""
    with app.app_context():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
        make_patient(clinic, email, day=day, now=clock(), name=name)


def answer_checkin(page: Page, base: str, *, yes: str, pain: str, bruising: str) -> list[str]:
    """From Today, start the check-in and answer it: "yes" to the one warning sign whose
    question contains ``yes``, "no" to every other. Returns the questions asked."""
    expect(page).to_have_url(f"{base}/patient/today")
    page.get_by_role("link", name="Start today's check-in").click()
    expect(page).to_have_url(f"{base}/patient/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("How are you today?")
    questions = page.locator("section.warning-questions fieldset")
    asked = [q.locator("legend").inner_text() for q in questions.all()]
    assert sum(yes.lower() in q.lower() for q in asked) == 1, asked
    for question, title in zip(questions.all(), asked, strict=True):
        answer = "Yes" if yes.lower() in title.lower() else "No"
        question.get_by_role("radio", name=answer, exact=True).check()
    pain_scale = page.get_by_role("group", name=re.compile(r"^Pain where you were treated"))
    pain_scale.get_by_role("radio", name=pain, exact=True).check()
    page.get_by_role("group", name="Bruising").get_by_role("radio", name=bruising).check()
    page.get_by_label("No skin changes").check()
    page.get_by_role("button", name="Send check-in").click()
    return asked


def test_calf_swelling_on_day_5_gets_same_day_advice_and_tops_the_dashboard(
    page: Page, browser, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    name = "Carl Calfswell"
    demo_patient(app, clock, f"carl@{demo.DOMAIN}", name, day=5)

    sign_in(page, base, f"carl@{demo.DOMAIN}", PASSWORD, clock())
    expect(page.get_by_role("heading", level=1)).to_have_text("Day 5 after your treatment")
    asked = answer_checkin(page, base, yes=CALF, pain="3", bruising="A little")
    assert len(asked) >= 3, asked  # day 5 asks several warning signs, calf among them

    expect(page.get_by_role("heading", level=1)).to_have_text("Please call the clinic today")
    advice = page.get_by_role("alert").filter(has_text="Please call the clinic today")
    expect(advice).to_contain_text("Pain, swelling, warmth or tenderness in the calf")
    call = page.get_by_role("link", name=re.compile(r"^Call Demo Vein Clinic"))
    expect(call).to_have_attribute("href", "tel:01632960000")
    expect(call).to_contain_text("01632 960 000")
    expect(page.get_by_text("Offline copy")).to_have_count(0)
    page.screenshot(path=str(artifacts / "triage-same-day-phone.png"), full_page=True)
    assert js_errors == []

    # The clinician, in a browser of their own.
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        doc = context.new_page()
        doc_errors: list[str] = []
        doc.on("pageerror", lambda exc: doc_errors.append(str(exc)))
        sign_in(doc, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(doc).to_have_url(f"{base}/clinic/")
        alerts = doc.locator("table.worklist tr[data-kind='alerts']")
        count = doc.locator("#alerts-title .count")
        expect(count).to_have_text("1")
        first = alerts.first
        expect(first).to_contain_text(name)
        expect(first).to_contain_text(CALF)
        expect(first.locator(".badge")).to_have_text("Same day")
        doc.screenshot(path=str(artifacts / "triage-dashboard-alert.png"), full_page=True)

        first.get_by_label("Note").fill("Called Carl: same-day scan booked at 15:00")
        first.get_by_role("button", name="Acknowledge").click()
        expect(doc).to_have_url(f"{base}/clinic/")
        expect(doc.get_by_text("Alert acknowledged.")).to_be_visible()
        expect(count).to_have_text("0")
        expect(alerts).to_have_count(0)
        doc.screenshot(path=str(artifacts / "triage-dashboard-acknowledged.png"), full_page=True)
        assert doc_errors == []
    finally:
        context.close()


def test_chest_pain_shows_call_999_first_on_the_phone(
    page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    demo_patient(app, clock, f"chest@{demo.DOMAIN}", "Cher Chester", day=5)

    sign_in(page, base, f"chest@{demo.DOMAIN}", PASSWORD, clock())
    answer_checkin(page, base, yes="chest pain", pain="2", bruising="None")

    alert = page.get_by_role("alert").filter(has_text="Call 999 now")
    expect(page.get_by_role("heading", level=1)).to_have_text("Call 999 now")
    expect(alert).to_contain_text("Chest pain, sudden breathlessness")
    call = alert.get_by_role("link", name="Call 999")
    expect(call).to_have_attribute("href", "tel:999")
    # It takes the phone's screen: the warning spans the width and the call button is
    # on the first screen, without scrolling.
    viewport = page.viewport_size
    box, button = alert.bounding_box(), call.bounding_box()
    assert box["width"] >= 0.85 * viewport["width"], box
    assert button["y"] + button["height"] <= viewport["height"], button
    assert button["width"] >= 0.75 * viewport["width"], button
    page.screenshot(path=str(artifacts / "triage-emergency-phone.png"))
    assert js_errors == []
