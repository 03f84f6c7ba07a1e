"""Call-backs are possible, and safety actions are deliberate (issue 14 point 11):
the patient's phone (new-patient form, patient page, next to alerts), a note required to
acknowledge an emergency alert, and a confirmation before cancelling a session."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import Clinic
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from tests.conftest import login
from tests.conftest import text_of
from tests.conftest import version_id
from tests.web.test_checkin import form


def _doc(app, email="doc1@north.example"):
    c = app.test_client()
    login(c, email)
    return c


def _alert(in_app, client, yes: str) -> int:
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={yes}))
    return in_app(lambda: db.session.scalar(sa.select(Alert.id)))


def _set_phone(in_app, patient_id: int, phone: str) -> None:
    def run():
        db.session.get(Patient, patient_id).phone = phone
        db.session.commit()

    in_app(run)


# ------------------------------------------------------------------ the patient's phone


def test_new_patient_form_records_the_phone(app, world, in_app):
    doc = _doc(app)
    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    data = {
        "name": "Dora New",
        "email": "dora@patients.example",
        "timezone": "Europe/London",
        "date": "2026-11-25",
        "time": "10:00",
        "protocol": str(vid),
        "phone": "+44 7700 900123",
    }
    r = doc.post("/clinic/patients/new", data=data)
    assert r.status_code == 200  # the new patient's page, with their link
    patient = in_app(
        lambda: db.session.scalar(
            sa.select(Patient).join(User).where(User.email == "dora@patients.example")
        )
    )
    assert patient.phone == "+44 7700 900123"
    page = r.get_data(as_text=True)
    assert 'href="tel:+447700900123"' in page


def test_new_patient_with_a_bad_phone_is_refused_with_a_message_and_keeps_the_form(
    app, world, in_app
):
    doc = _doc(app)
    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    data = {
        "name": "Dora New",
        "email": "dora@patients.example",
        "timezone": "Europe/London",
        "date": "2026-11-25",
        "time": "10:00",
        "protocol": str(vid),
        "phone": "call me maybe",
    }
    r = doc.post("/clinic/patients/new", data=data)
    assert r.status_code == 400
    assert "Enter a phone number using digits" in text_of(r)
    html = r.get_data(as_text=True)
    assert 'value="call me maybe"' in html and 'value="Dora New"' in html
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Patient))) == 3


def test_phone_is_set_on_the_patient_page_audited_and_bad_input_kept(app, world, in_app):
    doc = _doc(app)
    url = f"/clinic/patients/{world.patient_a}/phone"
    r = doc.post(url, data={"phone": "07700 900 (123)"})
    assert r.status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == "07700 900 (123)"
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert 'href="tel:07700900123"' in page
    actions = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "change")
        ).all()
    )
    assert "phone number" in actions
    for bad in ("12", "0770<script>", "1" * 41):
        r = doc.post(url, data={"phone": bad})
        assert r.status_code == 303
        page = doc.get(f"/clinic/patients/{world.patient_a}")
        assert "Enter a phone number using digits" in text_of(page)
        assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == "07700 900 (123)"
    r = doc.post(url, data={"phone": "not a number"})
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert 'value="not a number"' in html  # what was typed is back in the box


def test_phone_of_another_clinics_patient_is_404_and_patients_are_refused(app, world, in_app):
    other = _doc(app, "doc2@south.example")
    assert (
        other.post(f"/clinic/patients/{world.patient_a}/phone", data={"phone": "111"}).status_code
        == 404
    )
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert (
        alice.post(f"/clinic/patients/{world.patient_a}/phone", data={"phone": "111"}).status_code
        == 404
    )
    assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == ""


def test_call_back_is_one_tap_next_to_alerts(app, client, world, in_app):
    _set_phone(in_app, world.patient_a, "01632 960 555")
    _alert(in_app, client, "calf-pain-swelling")
    doc = _doc(app)
    dashboard = doc.get("/clinic/").get_data(as_text=True)
    assert 'href="tel:01632960555"' in dashboard
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    alerts = page[
        page.index('id="open-alerts"') : page.index("</section>", page.index('id="open-alerts"'))
    ]
    assert 'href="tel:01632960555"' in alerts


# ------------------------------------------------------------------ acknowledging alerts


def test_emergency_alert_needs_a_note_and_the_typed_text_is_kept(app, client, world, in_app):
    alert_id = _alert(in_app, client, "chest-breathing")
    doc = _doc(app)
    page_url = f"/clinic/patients/{world.patient_a}"
    assert (
        "required"
        in doc.get(page_url).get_data(as_text=True).split(f'id="note-{alert_id}"')[1][:80]
    )
    url = f"/clinic/alerts/{alert_id}/acknowledge"
    r = doc.post(url, data={"note": "   ", "patient": world.patient_a})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"{page_url}#open-alerts")
    page = doc.get(page_url)
    assert "Write a note to acknowledge an emergency alert" in text_of(page)
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is None
    # From the dashboard too: refused, and the clinician lands where the note box is.
    r = doc.post(url, data={"note": "", "back": "dashboard", "patient": world.patient_a})
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is None
    r = doc.post(
        url,
        data={"note": "Called her: 999 called, ambulance on the way", "patient": world.patient_a},
    )
    assert r.status_code == 303
    alert = in_app(lambda: db.session.get(Alert, alert_id))
    assert alert.acknowledged_at is not None and alert.ack_note.startswith("Called her")


def test_same_day_alert_can_still_be_acknowledged_without_a_note(app, client, world, in_app):
    alert_id = _alert(in_app, client, "calf-pain-swelling")
    doc = _doc(app)
    r = doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": ""})
    assert r.status_code == 303
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is not None


def test_acknowledging_another_clinics_alert_is_404_and_patients_are_refused(
    app, client, world, in_app
):
    alert_id = _alert(in_app, client, "chest-breathing")
    other = _doc(app, "doc2@south.example")
    r = other.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "seen"})
    assert r.status_code == 404
    r = client.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "seen"})
    assert r.status_code == 404  # Alice herself
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is None


# ------------------------------------------------------------------ cancelling a session


def _bob_session(in_app, world) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )


def _status(in_app, tid):
    return in_app(lambda: db.session.get(Treatment, tid).status)


def test_cancel_asks_for_confirmation_first_without_javascript(app, world, in_app):
    tid = _bob_session(in_app, world)
    doc = _doc(app)
    patient_page = doc.get(f"/clinic/patients/{world.patient_b}").get_data(as_text=True)
    # A plain link to a page that asks: no form that cancels in one click.
    assert f'href="/clinic/sessions/{tid}/cancel"' in patient_page
    assert f'action="/clinic/sessions/{tid}/cancel"' not in patient_page
    page = doc.get(f"/clinic/sessions/{tid}/cancel")
    assert page.status_code == 200
    assert "Cancel this appointment?" in text_of(page) and "Bob Marker-B" in text_of(page)
    assert 'name="confirm" value="yes"' in page.get_data(as_text=True)
    assert _status(in_app, tid) == TreatmentStatus.SCHEDULED  # looking changes nothing
    r = doc.post(f"/clinic/sessions/{tid}/cancel", data={})
    assert r.status_code == 400
    assert "Confirm that you want to cancel this appointment." in text_of(r)
    assert _status(in_app, tid) == TreatmentStatus.SCHEDULED
    r = doc.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"})
    assert r.status_code == 303
    assert _status(in_app, tid) == TreatmentStatus.CANCELLED


def test_cancel_of_another_clinics_session_is_404_and_patients_are_refused(app, world, in_app):
    tid = _bob_session(in_app, world)
    other = _doc(app, "doc2@south.example")
    assert other.get(f"/clinic/sessions/{tid}/cancel").status_code == 404
    assert other.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}).status_code == 404
    bob = app.test_client()
    login(bob, "bob@patients.example")
    assert bob.get(f"/clinic/sessions/{tid}/cancel").status_code == 404
    assert bob.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}).status_code == 404
    assert _status(in_app, tid) == TreatmentStatus.SCHEDULED
