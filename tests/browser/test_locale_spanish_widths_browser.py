"""A Spanish patient's pages in Chromium (issue 19 point 4 review): longer words than
English at 320, 390 and 1366 px, no sideways scroll, no word broken inside itself, axe
clean, and the page's language (``<html lang>``) is Spanish; the offline page kept by
the service worker carries Spanish too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Patient
from app.models import User
from tests.browser.test_review17_widths_browser import _check
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

EMAIL = "ximena.etxeberria@patients.example"
NAME = "Ximena Etxeberria-Altuna"
PAGES = (
    "/patient/today",
    "/patient/checkin",
    "/patient/checklist",
    "/patient/plan",
    "/patient/diary",
    "/patient/photos",
    "/patient/photos/new",
    "/patient/reminders",
    "/offline",
)


def test_a_spanish_patients_pages_fit_and_pass_axe(browser, app, clock, live_server, artifacts):
    base = live_server.url
    demo_patient(app, clock, EMAIL, NAME, 3)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == EMAIL))
        db.session.scalar(sa.select(Patient).where(Patient.user_id == user.id)).language = "es"
        db.session.commit()
    problems: list[str] = []
    js_errors: list[str] = []
    page = _new_page(browser, js_errors)
    sign_in(page, base, EMAIL, PASSWORD, clock())
    for path in PAGES:
        page.goto(f"{base}{path}")
        if page.evaluate("document.documentElement.lang") != "es":
            problems.append(f"{path}: <html lang> is not es")
        _check(page, f"es{path}", artifacts, problems)
    # The copy the service worker precaches at install, before anyone signs in: the
    # Spanish part is marked as Spanish and fits like the rest.
    signed_out = _new_page(browser, js_errors)
    signed_out.goto(f"{base}/offline")
    if signed_out.locator('[lang="es"]').inner_text().find("No tiene conexión") < 0:
        problems.append("offline (signed out): no Spanish")
    _check(signed_out, "offline signed out", artifacts, problems)
    assert not problems, "\n".join(problems)
    assert not js_errors, js_errors
