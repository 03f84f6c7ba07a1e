"""The check-in page's own script speaks the patient's language offline (issue 19
point 4): the error summary it builds with no server to ask is in Spanish for a
Spanish patient, from the words the server put in the page (app/js_messages.py).
New messages come back as ``ES[...]`` until the catalogue catches up
(tests/fake_catalogue.py); the server runs in this process, so it uses that fake.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Patient
from app.models import User
from app.services import demo
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.fake_catalogue import in_spanish

pytestmark = pytest.mark.browser


def test_offline_the_error_summary_is_in_the_patients_language(
    page: Page, app, clock, live_server, js_errors, fake_spanish
):
    base = live_server.url
    email = f"pia@{demo.DOMAIN}"
    demo_patient(app, clock, email, "Pia Phone", day=3)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.scalar(sa.select(Patient).where(Patient.user_id == user.id)).language = "es"
        db.session.commit()
    sign_in(page, base, email, PASSWORD, clock())
    page.goto(f"{base}/patient/checkin")
    first = page.locator("section.warning-questions fieldset legend").first.inner_text()
    page.context.set_offline(True)
    page.locator("input[name=bruising][value=none]").check()  # as the English test does
    page.locator("form.checkin-form button[type=submit]").last.click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text(in_spanish(app, "There is a problem"))
    links = summary.get_by_role("link")
    pain = in_spanish(app, "Choose a pain score from 0 to 10.")
    expect(links.filter(has_text=pain)).to_have_count(1)
    asked = in_spanish(app, "Please answer yes or no: %(title)s", title=first.strip())
    expect(links.first).to_have_text(asked)
    assert not js_errors, js_errors
