"""A tick saved on the phone while offline, sent after the clinic discharged the patient
(issue 17 point 4): the phone shows the page saying nothing was saved, with the clinic's
number, and never "everything reached the clinic"."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Patient
from app.models import TaskTick
from app.models import User
from app.services import demo
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_triage_browser import sign_in

pytestmark = pytest.mark.browser

EMAIL = "day3@demo.sclerocare.example"


def test_an_offline_tick_replayed_after_discharge_shows_the_course_has_ended(
    live_server, page, in_app, clock, js_errors
):
    base = live_server.url
    sign_in(page, base, EMAIL, demo.PATIENT_PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the service worker
    wait_for_sw_control(page)

    page.context.set_offline(True)
    page.locator("#task-walks button.tick").click()
    expect(page.locator("#sc-status")).to_contain_text(
        "Saved on this phone, will send when online."
    )

    def discharge() -> None:  # meanwhile, at the clinic
        patient = db.session.scalar(
            sa.select(Patient).join(User, User.id == Patient.user_id).where(User.email == EMAIL)
        )
        patient.discharged_at = clock()
        db.session.commit()

    in_app(discharge)
    page.context.set_offline(False)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your course with", timeout=15_000)
    body = page.locator("main").inner_text()
    assert "What you just sent was not saved." in body
    assert "reached the clinic" not in body
    expect(page.get_by_role("link", name="Call 999")).to_be_visible()
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(TaskTick))) == 0
    assert js_errors == []
