"""The dashboard refreshes its worklist by itself (issue 19 point 1), in Chromium: a
check-in that arrives while the clinician is typing an acknowledgement note shows up,
with the counts and the nav badge, and the note keeps its words, its focus and its caret;
while the tab is hidden nothing is fetched, and the news arrives once it is shown again.
The app's clock is pinned; new work is written straight to the database, as a patient's
check-in would be."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Patient
from app.models import User
from app.services import demo
from app.services.care import followup
from tests.browser.conftest import wait_for_js
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.web.test_dashboard_scale import _add_checkins
from tests.web.test_dashboard_scale import _treatment

pytestmark = pytest.mark.browser

DESK = {"width": 1366, "height": 900}
NOTE = "Called Ann: booked a scan for 15:00, advised to keep walking"


def _patient(email: str) -> Patient:
    return db.session.scalar(
        sa.select(Patient).join(User, User.id == Patient.user_id).where(User.email == email)
    )


def _checkins(app, email: str, days: range, alert_on: set[int]) -> list[int]:
    """Unreviewed check-ins of ``email`` on ``days`` (a same-day alert on ``alert_on``)."""
    with app.app_context():
        patient = _patient(email)
        _add_checkins(patient, _treatment(patient.id), days, alert_on=alert_on)
        followup.backfill(db.session.connection())
        db.session.commit()
        return list(
            db.session.scalars(
                sa.select(CheckIn.id)
                .where(CheckIn.patient_id == patient.id, CheckIn.day.in_(list(days)))
                .order_by(CheckIn.id)
            )
        )


def _set_hidden(page, hidden: bool) -> None:
    page.evaluate(
        """(hidden) => {
          Object.defineProperty(document, "visibilityState",
            {configurable: true, get: () => (hidden ? "hidden" : "visible")});
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_new_work_arrives_without_losing_the_note_being_typed(browser, app, clock, live_server):
    app.config["SCLERO_WORKLIST_POLL_SECONDS"] = 1
    base = live_server.url
    demo_patient(app, clock, "ann@patients.example", "Ann Alert", 3)
    demo_patient(app, clock, "bo@patients.example", "Bo Later", 3)
    _checkins(app, "ann@patients.example", range(2, 3), {2})
    with app.app_context():
        alert_id = db.session.scalar(sa.select(Alert.id))

    context = browser.new_context(viewport=DESK)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    fetched: list[int] = []
    page.on("response", lambda r: fetched.append(r.status) if "/clinic/worklist" in r.url else None)
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(f"{base}/clinic/")
        expect(page.locator("#checkins-title .count")).to_have_text("1")
        note = page.locator(f"#note-{alert_id}")
        note.click()
        note.press_sequentially(NOTE[:30])
        # Unchanged: the polls are answered 204 and the page is left alone.
        wait_for_js(page, "() => true")
        deadline = time.monotonic() + 10
        while fetched.count(204) < 2:
            assert time.monotonic() < deadline, fetched
            page.wait_for_timeout(200)

        new = _checkins(app, "bo@patients.example", range(1, 2), {1})
        wait_for_js(page, f"() => !!document.getElementById('wl-checkin-{new[0]}')")
        expect(page.locator("#checkins-title .count")).to_have_text("2")
        expect(page.locator("#alerts-title .count")).to_have_text("2")
        expect(page.locator("nav.tabs a[href='/clinic/'] .badge")).to_have_text("2")
        # The note: same words, still focused, the caret where it was; typing goes on.
        assert page.evaluate("document.activeElement.id") == f"note-{alert_id}"
        assert note.input_value() == NOTE[:30]
        assert page.evaluate("document.activeElement.selectionStart") == 30
        page.keyboard.type(NOTE[30:])
        expect(note).to_have_value(NOTE)

        # A hidden tab asks nothing; shown again, it catches up at once.
        _set_hidden(page, True)
        page.wait_for_timeout(300)
        asked = len(fetched)
        later = _checkins(app, "bo@patients.example", range(2, 3), set())
        page.wait_for_timeout(2500)
        assert len(fetched) == asked
        assert page.locator(f"#wl-checkin-{later[0]}").count() == 0
        _set_hidden(page, False)
        wait_for_js(page, f"() => !!document.getElementById('wl-checkin-{later[0]}')")
        expect(note).to_have_value(NOTE)

        # The note is sent as typed.
        page.locator(f"#wl-alert-{alert_id}").get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
        with app.app_context():
            assert db.session.get(Alert, alert_id).ack_note == NOTE
    finally:
        context.close()
    assert errors == []
