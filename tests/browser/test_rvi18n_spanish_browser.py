"""A Spanish patient's remaining pages in Chromium (review rvi18n, issue 19 point 4):
the pages the first width check left out, a check-in refused with errors, and the
signed-out pages a Spanish phone shows. Each fits 320/390/1366 px with words whole,
passes axe, is marked Spanish, and shows none of the English it was checked against."""

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
PAGES = ("/patient/account/close", "/account/password", "/patient/photos/compare")
ENGLISH = ("Please", "Choose", "Your ", "There is a problem", "Sign in", "password")


def _english_on(page) -> list[str]:  # noqa: ANN001 - a Playwright page
    text = page.locator("main").inner_text()
    return [word for word in ENGLISH if word in text]


def test_a_spanish_patients_other_pages_and_refused_checkin_fit(
    browser, app, clock, live_server, artifacts
):
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
        problems += [f"{path}: English {w!r}" for w in _english_on(page)]
        _check(page, f"es{path}", artifacts, problems)
    # Sent with nothing answered: the server's error summary, in Spanish, fits at 320.
    page.goto(f"{base}/patient/checkin")
    page.locator("form.checkin-form button[type=submit]").click()
    page.wait_for_selector(".error-summary, .has-error")
    problems += [f"refused check-in: English {w!r}" for w in _english_on(page)]
    _check(page, "es refused check-in", artifacts, problems)

    # A Spanish phone before sign-in (the browser's language decides).
    context = browser.new_context(
        locale="es-ES", viewport={"width": 390, "height": 800}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    signed_out = context.new_page()
    signed_out.on("pageerror", lambda exc: js_errors.append(str(exc)))
    for path in ("/login", "/forgot-password", "/reset/not-a-token", "/invite/not-a-token"):
        signed_out.goto(f"{base}{path}")
        if signed_out.evaluate("document.documentElement.lang") != "es":
            problems.append(f"{path}: <html lang> is not es")
        problems += [f"{path}: English {w!r}" for w in _english_on(signed_out)]
        _check(signed_out, f"es signed out {path}", artifacts, problems)
    assert not problems, "\n".join(problems)
    assert not js_errors, js_errors
