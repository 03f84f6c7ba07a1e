"""Acknowledging an alert acknowledges what the clinician's page showed.

Alice reports pain 9 (a same-day alert); a clinician opens the worklist, where the note
is optional. Alice then edits the day and answers "yes" to chest pain: the same open
alert becomes an emergency. The clinician's row, kept open while typing, still showed
"same day"; submitting it closed the emergency with "Pain noted, will ring tomorrow"
(adversarial review, 2026-12-08). The form now says what it showed, and an alert that
changed since is refused, the note kept, and the alert shown again.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form


def _alert(in_app) -> Alert:
    return in_app(lambda: db.session.scalar(sa.select(Alert)))


def _seen(page: str, alert_id: int) -> str:
    form_html = page.split(f"/clinic/alerts/{alert_id}/acknowledge", 1)[1].split("</form>")[0]
    return re.search(r'name="seen" value="([^"]+)"', form_html).group(1)


def test_an_alert_raised_to_emergency_after_the_page_is_not_acknowledged(app, world, in_app):
    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    assert patient.post("/patient/checkin", data=form(pain="9")).status_code == 200
    a = _alert(in_app)
    assert a.level == "same_day"
    seen = _seen(doc.get("/clinic/worklist").get_data(as_text=True), a.id)
    edit = form(yes={"chest-breathing"}, pain="9")
    assert patient.post("/patient/checkin", data=edit).status_code == 200
    assert _alert(in_app).level == "emergency"
    note = "Pain noted, will ring tomorrow"
    data = {"note": note, "back": "dashboard", "patient": world.patient_a, "seen": seen}
    r = doc.post(f"/clinic/alerts/{a.id}/acknowledge", data=data)
    assert r.status_code == 303 and r.headers["Location"].endswith(
        f"/clinic/patients/{world.patient_a}#open-alerts"
    )
    assert _alert(in_app).acknowledged_at is None
    page = doc.get(r.headers["Location"])
    shown = text_of(page)
    assert "changed their answers after you opened the page" in shown
    assert "now an emergency" in shown
    assert note in page.get_data(as_text=True)  # the typed note is kept in its box
    # Acknowledged from the page that shows the emergency, it goes through.
    fresh = _seen(page.get_data(as_text=True), a.id)
    data = {"note": "Called her: sent to A&E", "patient": world.patient_a, "seen": fresh}
    assert doc.post(f"/clinic/alerts/{a.id}/acknowledge", data=data).status_code == 303
    assert _alert(in_app).ack_note == "Called her: sent to A&E"


def test_an_unchanged_alert_is_acknowledged_from_either_page(app, world, in_app):
    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(pain="9"))
    a = _alert(in_app)
    seen = _seen(doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True), a.id)
    assert seen == _seen(doc.get("/clinic/worklist").get_data(as_text=True), a.id)
    data = {"note": "", "patient": world.patient_a, "seen": seen}
    assert doc.post(f"/clinic/alerts/{a.id}/acknowledge", data=data).status_code == 303
    assert _alert(in_app).acknowledged_at is not None


def test_the_worklist_refresh_sees_a_reason_added_to_an_open_alert(app, world, in_app):
    """The dashboard polls its worklist with the version it shows; a patient's edit that
    adds a reason to an open alert (a calf sign to chest pain) without changing its tier
    or time must change that version, or the row kept on screen goes stale."""
    import html

    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    page = doc.get("/clinic/").get_data(as_text=True)
    src = html.unescape(re.search(r'data-src="([^"]+)"', page).group(1))
    version = re.search(r'data-version="([^"]+)"', page).group(1)
    poll = f"{src}{'&' if '?' in src else '?'}since={version}"
    assert doc.get(poll).status_code == 204  # nothing new yet
    patient.post("/patient/checkin", data=form(yes={"chest-breathing", "calf-pain-swelling"}))
    r = doc.get(poll)
    assert r.status_code == 200 and "calf" in r.get_data(as_text=True).lower()
