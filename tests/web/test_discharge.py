"""Discharging and re-opening a patient (issue 17 point 4): reminders stop, the patient
leaves the dashboard, keeps read access for a while and then cannot sign in; discharge is
refused while an alert is open; archived patients are found with the list's filter."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import CheckIn
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Photo
from app.models import PushSubscription
from app.models import TaskTick
from app.services import accounts
from app.services import review
from app.services.notify import enqueue
from tests.conftest import NOW
from tests.conftest import PASSWORD
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_access_matrix import _alices_objects
from tests.web.test_checkin import form as checkin_form

DOC1 = "doc1@north.example"
ALICE = "alice@patients.example"


def _discharge(client, patient_id: int, reason: str = "Course complete"):
    return client.post(
        f"/clinic/patients/{patient_id}/discharge", data={"confirm": "yes", "reason": reason}
    )


def _plan(patient_id: int) -> None:
    enqueue.replan_patient(patient_id, NOW)
    db.session.commit()


def _rows(patient_id: int) -> list[tuple[str, OutboxState, int | None]]:
    return [
        (r.key, r.state, r.recipient_user_id)
        for r in db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.patient_id == patient_id)
            .order_by(OutboxMessage.id)
        )
    ]


def _open_patient_rows(patient_id: int) -> list[str]:
    return [
        key
        for key, state, recipient in _rows(patient_id)
        if recipient is None and state in (OutboxState.PENDING, OutboxState.SENDING)
    ]


def _actions(patient_id: int) -> list[tuple[str, str]]:
    return [
        (e.action, e.detail)
        for e in db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.patient_id == patient_id, AuditEvent.action.in_(["discharge", "re-open"])
            )
            .order_by(AuditEvent.id)
        )
    ]


def test_discharge_asks_to_confirm_and_is_audited_once(client, world, in_app):
    login(client, DOC1)
    page = client.get(f"/clinic/patients/{world.patient_a}")
    assert f"/clinic/patients/{world.patient_a}/discharge" in page.get_data(as_text=True)
    ask = client.get(f"/clinic/patients/{world.patient_a}/discharge")
    assert ask.status_code == 200
    assert "Yes, discharge Alice Marker-A" in text_of(ask)
    # Without the confirmation nothing happens, and what was typed is kept.
    r = client.post(f"/clinic/patients/{world.patient_a}/discharge", data={"reason": "Moved away"})
    assert r.status_code == 400
    assert "Confirm that you want to discharge this patient." in text_of(r)
    assert 'value="Moved away"' in r.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is None
    # Confirmed, twice (a double submit): discharged once, audited once with the reason.
    for _ in range(2):
        assert _discharge(client, world.patient_a, "Moved\x00 away").status_code == 303
    patient = in_app(lambda: db.session.get(Patient, world.patient_a))
    assert patient.discharged_at == NOW and patient.discharge_reason == "Moved away"
    assert in_app(_actions, world.patient_a) == [("discharge", "reason: Moved away")]
    shown = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Discharged" in shown and "Moved away" in shown and "Re-open this patient" in shown


def test_a_huge_reason_is_refused_with_a_message_and_nothing_changes(client, world, in_app):
    login(client, DOC1)
    r = _discharge(client, world.patient_a, "why " * 50_000)
    assert r.status_code == 400
    assert "Please keep the reason under 500 characters." in text_of(r)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is None


def test_discharge_is_refused_while_an_alert_is_open_until_acknowledged(client, world, in_app):
    ids = in_app(_alices_objects, world.patient_a)  # includes an open same-day alert
    login(client, DOC1)
    ask = client.get(f"/clinic/patients/{world.patient_a}/discharge")
    assert "has 1 open alert" in text_of(ask) and "Yes, discharge" not in text_of(ask)
    r = _discharge(client, world.patient_a)
    assert r.status_code == 400
    assert "Acknowledge each alert with a note" in text_of(r)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is None
    assert in_app(_actions, world.patient_a) == []
    client.post(f"/clinic/alerts/{ids['alert']}/acknowledge", data={"note": "Called: fine."})
    assert _discharge(client, world.patient_a).status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) == NOW


def test_another_clinics_clinician_gets_404_for_discharge_and_reopen(client, world, in_app):
    login(client, "doc2@south.example")
    assert client.get(f"/clinic/patients/{world.patient_a}/discharge").status_code == 404
    assert _discharge(client, world.patient_a).status_code == 404
    assert client.post(f"/clinic/patients/{world.patient_a}/reopen").status_code == 404
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is None


def test_discharge_cancels_every_queued_push_and_nothing_new_is_queued(client, world, in_app):
    in_app(_plan, world.patient_a)
    login(client, DOC1)
    client.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": "Looking good."})
    before = in_app(_open_patient_rows, world.patient_a)
    assert "comment:1" in before and any(k.startswith("daily:") for k in before)
    assert _discharge(client, world.patient_a).status_code == 303
    assert in_app(_open_patient_rows, world.patient_a) == []
    # Every path that queues something for the patient: a comment, re-planning after a
    # session is booked or the time zone changes, quiet hours (through the same re-plan).
    client.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": "One more."})
    client.post(
        f"/clinic/patients/{world.patient_a}/sessions",
        data={"date": "2026-12-01", "time": "10:00", "protocol": "1"},
    )
    client.post(
        f"/clinic/patients/{world.patient_a}/edit",
        data={
            "name": "Alice Marker-A",
            "email": ALICE,
            "phone": "",
            "timezone": "Europe/Paris",
        },
    )
    in_app(_plan, world.patient_a)
    assert in_app(_open_patient_rows, world.patient_a) == []
    # The comment itself is kept: the patient may still read their diary.
    assert "One more." in text_of(client.get(f"/clinic/patients/{world.patient_a}"))


def test_re_opening_plans_reminders_again_and_is_audited(client, world, in_app):
    in_app(_plan, world.patient_a)
    planned = set(in_app(_open_patient_rows, world.patient_a))
    login(client, DOC1)
    _discharge(client, world.patient_a)
    for _ in range(2):  # a double submit re-opens once
        assert client.post(f"/clinic/patients/{world.patient_a}/reopen").status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is None
    assert set(in_app(_open_patient_rows, world.patient_a)) == planned
    actions = in_app(_actions, world.patient_a)
    assert [a for a, _ in actions] == ["discharge", "re-open"]
    # And the patient can check in again.
    patient = client.application.test_client()
    login(patient, ALICE)
    assert patient.get("/patient/checkin").status_code == 200
    assert patient.post("/patient/checkin", data=checkin_form()).status_code == 200
    assert in_app(count, CheckIn) == 1


def _board_patients(email: str) -> dict[str, set[int]]:
    actor = accounts.authenticate(email, PASSWORD, NOW)
    board = review.dashboard(actor, NOW, {})
    sections = ("alerts", "checkins", "photos", "missed", "upcoming")
    return {s: {row.patient_id for row in getattr(board, s).rows} for s in sections}


def test_a_discharged_patient_leaves_every_list_of_the_dashboard(client, world, in_app):
    ids = in_app(_alices_objects, world.patient_a)  # an unreviewed check-in and photo
    board = in_app(_board_patients, DOC1)
    assert world.patient_a in board["checkins"] & board["photos"] & board["missed"]
    assert world.patient_b in board["upcoming"]
    login(client, DOC1)
    client.post(f"/clinic/alerts/{ids['alert']}/acknowledge", data={"note": "Seen."})
    _discharge(client, world.patient_a)
    _discharge(client, world.patient_b)
    board = in_app(_board_patients, DOC1)
    assert board == {s: set() for s in board}
    page = text_of(client.get("/clinic/"))
    assert "Alice Marker-A" not in page and "Bob Marker-B" not in page


def test_an_alert_raised_after_discharge_stays_on_the_dashboard(client, world, in_app):
    """A check-in racing the discharge can still raise an alert: it must not vanish."""
    login(client, DOC1)
    _discharge(client, world.patient_a)
    in_app(_alices_objects, world.patient_a)
    board = in_app(_board_patients, DOC1)
    assert board["alerts"] == {world.patient_a}
    assert board["checkins"] == board["photos"] == set()


def test_a_discharged_patient_reads_but_cannot_change_anything(client, world, in_app):
    clinician = client.application.test_client()
    login(clinician, DOC1)
    _discharge(clinician, world.patient_a)
    login(client, ALICE)
    for path in ("/patient/today", "/patient/diary", "/patient/photos", "/patient/plan"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "Your course with North Clinic has ended." in text_of(r), path
        assert "18 February 2027" in text_of(r)  # 90 days after 20 November
    refused = [
        client.get("/patient/checkin"),
        client.post("/patient/checkin", data=checkin_form(yes=["chest-breathing"])),
        client.get("/patient/photos/new"),
        client.post("/patient/photos", data={}),
        client.post("/patient/tasks/walks", data={"done": "1", "day": "3"}),
        client.post("/patient/checklist/stockings", data={"done": "1"}),
        client.post("/patient/reminders/quiet-hours", data={"start": "22:00", "end": "07:00"}),
    ]
    for r in refused:
        assert r.status_code == 403
        text = text_of(r)
        assert "Your course with North Clinic has ended" in text
        # Said only of a send: opening the check-in form sent nothing.
        sent = r.request.method == "POST"
        assert ("What you just sent was not saved." in text) == sent
        assert "01632 960 111" in text and "call 999 at once" in text
    assert in_app(count, CheckIn) == 0 and in_app(count, TaskTick) == 0
    assert in_app(count, Photo) == 0
    json = client.post("/patient/reminders/subscribe", json={"endpoint": "x"})
    assert json.status_code == 403 and json.get_json()["ok"] is False


def test_a_discharged_patient_may_still_turn_a_device_off(client, world, in_app):
    ids = in_app(_alices_objects, world.patient_a)
    clinician = client.application.test_client()
    login(clinician, DOC1)
    clinician.post(f"/clinic/alerts/{ids['alert']}/acknowledge", data={"note": "Seen."})
    _discharge(clinician, world.patient_a)
    login(client, ALICE)
    assert client.post(f"/patient/reminders/devices/{ids['sub']}/delete").status_code == 303
    assert in_app(count, PushSubscription) == 0


def test_after_the_read_period_the_patient_cannot_sign_in(client, world, in_app, clock):
    clinician = client.application.test_client()
    login(clinician, DOC1)
    _discharge(clinician, world.patient_a)
    clock.advance(days=90, minutes=-10)
    login(client, ALICE)  # (an idle session would have ended by now anyway)
    assert client.get("/patient/diary").status_code == 200
    clock.advance(minutes=11)  # the read period ends within the session's 30 idle minutes
    r = client.get("/patient/diary")
    assert r.status_code == 403
    text = text_of(r)
    assert "You can no longer sign in to ScleroCare" in text
    assert "01632 960 111" in text and "call 999 at once" in text
    # That session has ended; signing in again lands on the same message, never a 500.
    assert client.get("/patient/today").status_code == 302
    again = client.application.test_client()
    assert login(again, ALICE).status_code == 302
    assert "You can no longer sign in" in text_of(again.get("/patient/today"))
    assert again.get("/patient/diary").status_code == 302
    # Re-opened, the patient is back.
    clock.advance(minutes=1)
    clinician = client.application.test_client()
    login(clinician, DOC1)
    clinician.post(f"/clinic/patients/{world.patient_a}/reopen")
    third = client.application.test_client()
    login(third, ALICE)
    assert third.get("/patient/checkin").status_code == 200


def test_the_patient_list_filters_active_discharged_and_all(client, world, in_app):
    login(client, DOC1)
    _discharge(client, world.patient_a)

    def names(query: str) -> tuple[int, bool, bool]:
        r = client.get(f"/clinic/patients{query}")
        assert r.status_code == 200
        text = text_of(r)
        return r.status_code, "Alice Marker-A" in text, "Bob Marker-B" in text

    assert names("") == (200, False, True)
    assert names("?status=active") == (200, False, True)
    assert names("?status=discharged") == (200, True, False)
    assert names("?status=all") == (200, True, True)
    assert names("?status=nonsense%00") == (200, False, True)
    assert names("?status=discharged&q=alice") == (200, True, False)
    assert names("?status=discharged&q=bob") == (200, False, False)
    assert "1 patient discharged" in text_of(client.get("/clinic/patients?status=discharged"))


def test_discharge_read_period_comes_from_config(app, client, world, clock):
    app.config["SCLERO_DISCHARGE_READ"] = timedelta(days=7)
    clinician = app.test_client()
    login(clinician, DOC1)
    _discharge(clinician, world.patient_a)
    clock.advance(days=7)
    login(client, ALICE)
    assert client.get("/patient/diary").status_code == 403


def test_discharge_lists_and_cancels_the_sessions_still_booked(client, world, in_app):
    """Found by an adversarial test: a discharged patient kept a booked session, so Today
    said both "your course has ended" and "your treatment is tomorrow", the clinic's page
    still showed it booked, the .ics download kept it CONFIRMED and the feed dropped it."""
    from icalendar import Calendar

    from app.models import Treatment
    from app.models import TreatmentStatus

    bob = "bob@patients.example"  # clinic 1, booked tomorrow
    login(client, bob)
    assert "CONFIRMED" in client.get("/patient/calendar.ics").get_data(as_text=True)
    login(client, DOC1)
    ask = text_of(client.get(f"/clinic/patients/{world.patient_b}/discharge"))
    assert "booked session is cancelled" in ask and "If it took place, record it" in ask
    assert _discharge(client, world.patient_b).status_code == 303
    statuses = in_app(
        lambda: list(
            db.session.scalars(
                sa.select(Treatment.status).where(Treatment.patient_id == world.patient_b)
            )
        )
    )
    assert statuses == [TreatmentStatus.CANCELLED]
    ((action, detail),) = in_app(_actions, world.patient_b)
    assert action == "discharge" and "cancelled session #" in detail and "booked for" in detail
    # The patient sees one story: the course has ended, no treatment still to come.
    login(client, bob)
    today = text_of(client.get("/patient/today"))
    assert "Your treatment is" not in today
    events = Calendar.from_ical(client.get("/patient/calendar.ics").data).walk("VEVENT")
    assert all(str(e["STATUS"]) == "CANCELLED" for e in events)
    # A discharge with nothing booked says nothing of sessions.
    login(client, DOC1)
    ask = text_of(client.get(f"/clinic/patients/{world.patient_a}/discharge"))
    assert "booked session" not in ask


def test_the_diary_offers_a_check_in_only_once_there_is_a_treatment(client, world):
    """Found by an adversarial test: before the first treatment the diary said "Do
    today's check-in" and linked to a page that answered "not found"."""
    login(client, "bob@patients.example")  # booked, not yet treated
    html = client.get("/patient/diary").get_data(as_text=True)
    assert "No check-ins yet." in html and 'href="/patient/checkin"' not in html
    assert client.get("/patient/checkin").status_code == 404
    login(client, ALICE)  # day 3, no check-in in the test world yet
    html = client.get("/patient/diary").get_data(as_text=True)
    assert "No check-ins yet." in html and 'href="/patient/checkin"' in html
    assert client.get("/patient/checkin").status_code == 200
