"""Outcomes per session in Chromium (issue 19 point 6): a patient six weeks after a
session finds the card on Today, rates the session on a phone (the error summary when
something is missing, then the thank-you), and the clinician scores the matched photos,
sees both on the patient page, and reads the clinic's outcomes page. Every page, in its
error state too, at 320, 390 and 1366 px: no sideways scroll, words whole, axe clean."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from app.extensions import db
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import User
from app.services import demo
from app.services import photos
from tests.browser.test_review17_widths_browser import _check as fits_and_axe
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NAME = "Maximiliane Oberhauser-Zwillingsberger"
EMAIL = "maximiliane.oberhauser@patients.example"


def _photos(app) -> None:
    """A before photo and an after photo at five weeks, of the left inner calf."""
    with app.app_context():
        patient = db.session.scalar(sa.select(Patient).join(User).where(User.email == EMAIL))
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient.id))
        for phase, taken, colour in (
            ("before", t.treated_at - timedelta(days=2), "purple"),
            ("after", t.treated_at + timedelta(days=35), "pink"),
        ):
            buffer = io.BytesIO()
            Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
            full = photos.store().put(buffer.getvalue())
            thumb = photos.store().put(buffer.getvalue())
            db.session.add(
                Photo(
                    patient_id=patient.id,
                    clinic_id=patient.clinic_id,
                    treatment_id=t.id,
                    phase=phase,
                    day=None,
                    taken_at=taken,
                    taken_on=taken.date(),
                    side="left",
                    region="calf",
                    view="inner",
                    full_key=full.key,
                    full_sha256=full.sha256,
                    full_size=full.size,
                    thumb_key=thumb.key,
                    thumb_sha256=thumb.sha256,
                    width=64,
                    height=48,
                    source_format="JPEG",
                )
            )
        db.session.commit()


def test_rating_scoring_and_the_outcomes_page_in_a_browser(
    browser, app, clock, live_server, artifacts
):
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    demo_patient(app, clock, EMAIL, NAME, 50)
    _photos(app)

    page = _new_page(browser, js_errors)
    sign_in(page, base, EMAIL, PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    card = page.locator("section.outcome-prompt")
    expect(card).to_contain_text("How did your session on")
    fits_and_axe(page, "today with the outcome card", artifacts, problems)
    card.get_by_role("link", name="Rate your session").click()
    fits_and_axe(page, "rate a session", artifacts, problems)
    page.get_by_role("button", name="Send my rating").click()
    expect(page.locator(".error-summary")).to_contain_text("Choose how much better it looks")
    fits_and_axe(page, "rate a session, error", artifacts, problems)
    page.locator('input[name=improvement][value="70"]').check()
    page.get_by_label("Happy", exact=True).check()
    page.get_by_label("New fine red vessels (called matting)").check()
    page.get_by_role("button", name="Send my rating").click()
    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.locator("body")).to_contain_text("Your rating is saved")
    expect(page.locator("section.outcome-prompt")).to_have_count(0)
    page.context.close()

    page = _new_page(browser, js_errors)
    sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
    page.goto(f"{base}/clinic/patients?q=oberhauser")
    page.get_by_role("link", name=NAME).click()
    outcomes = page.locator("#outcomes")
    expect(outcomes).to_contain_text("Rated; shown once the photos are scored")
    expect(outcomes).not_to_contain_text("70%")
    fits_and_axe(page, "patient page outcomes", artifacts, problems)
    outcomes.get_by_role("link", name="Score photos").click()
    expect(page.locator("body")).not_to_contain_text("70%")
    fits_and_axe(page, "score photos", artifacts, problems)
    page.get_by_label("3: 51 to 75% cleared").check()
    page.get_by_role("button", name="Save score").click()
    expect(page.locator("#outcomes")).to_contain_text("3 of 4")
    expect(page.locator("#outcomes")).to_contain_text("70% better, satisfaction 4 of 5")
    page.get_by_role("link", name="Outcomes", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Outcomes")
    fits_and_axe(page, "clinic outcomes", artifacts, problems)
    page.context.close()
    assert not problems, "\n".join(problems)
    assert not js_errors, js_errors


def test_the_rating_form_has_the_check_ins_large_controls(
    browser, app, clock, live_server, artifacts
):
    # The rating's radios and checkboxes reuse the check-in's NHS.UK-style controls
    # (class "big-choices" in app.css): a 40 px drawn circle or box in a 44 px+ target.
    base = live_server.url
    js_errors: list[str] = []
    demo_patient(app, clock, EMAIL, NAME, 50)
    page = _new_page(browser, js_errors)
    sign_in(page, base, EMAIL, PASSWORD, clock())
    page.locator("section.outcome-prompt").get_by_role("link", name="Rate your session").click()
    # Measure the rating form only once the navigation has finished.
    expect(page.locator("form .scale label").first).to_be_visible()
    page.wait_for_load_state()
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('form label.radio, form .scale label')]
          .map((l) => {
            const r = l.getBoundingClientRect();
            const i = l.querySelector('input').getBoundingClientRect();
            return {text: l.textContent.trim(), w: r.width, h: r.height,
                    iw: i.width, ih: i.height,
                    look: getComputedStyle(l.querySelector('input')).appearance};
          })"""
    )
    assert len(sizes) == 11 + 5 + 3, sizes
    for s in sizes:
        assert s["w"] >= 44 and s["h"] >= 44, s
        assert s["iw"] >= 40 and s["ih"] >= 40, s
        assert s["look"] == "none", s
    page.context.close()
    assert not js_errors, js_errors
