"""Review of issue 19 point 2 (booking and recording): a double submit books once,
two clinicians acting on one session at once cannot cancel a treatment given, and the
minimum interval of an earlier session's own protocol is warned about when the next
one is booked on another protocol."""

from __future__ import annotations

import re
import threading
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from app.services import locking
from app.services.clinic import sessions as session_service
from tests.conftest import is_postgres
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_booking import _ids
from tests.web.test_booking import _vid
from tests.web.test_booking import _when


def _audits(in_app, action: str) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
    )


def test_a_double_submitted_confirmed_booking_books_one_session(client, world, in_app):
    """The warning's tick then a double click: two POSTs, one session, one audit."""
    login(client, "doc1@north.example")
    data = {"protocol": _vid(in_app, world), "confirm_soon": "y", **_when("1", "12", "2026")}
    before = _audits(in_app, "book session")
    url = f"/clinic/patients/{world.patient_a}/sessions"
    assert client.post(url, data=data).status_code == 303
    assert client.post(url, data=data).status_code == 303
    assert len(_ids(in_app, world.patient_a)) == 2  # the treatment given, and this one
    assert _audits(in_app, "book session") == before + 1


def test_a_cancel_racing_a_record_does_not_cancel_the_treatment(client, world, in_app, monkeypatch):
    """A colleague records the session just before this cancel takes the patient's
    lock: the cancel must see "done" and refuse, not write "cancelled" over it."""
    (booked,) = _ids(in_app, world.patient_b)
    real = locking.lock_patient

    def colleague_records_first(patient_id: int) -> None:
        with db.engine.begin() as other:  # another worker's connection
            other.execute(
                sa.update(Treatment)
                .where(Treatment.id == booked)
                .values(status=TreatmentStatus.DONE, treated_at=Treatment.appointment_at)
            )
        real(patient_id)

    monkeypatch.setattr(session_service, "lock_patient", colleague_records_first, raising=False)
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/sessions/{booked}/cancel", data={"confirm": "yes"})
    assert r.status_code == 303
    status = in_app(lambda: db.session.get(Treatment, booked).status)
    assert status == TreatmentStatus.DONE
    assert _audits(in_app, "cancel session") == 0


def test_an_earlier_sessions_own_minimum_interval_counts_on_another_protocol(client, world, in_app):
    """Alice was treated on Tue 17 Nov on the 72-hour protocol (at least 4 weeks to the
    next session). Booking the next on a protocol asking only 2 weeks, 3 weeks later,
    is still inside her last session's minimum: warned, naming that protocol."""
    login(client, "doc1@north.example")
    data = {"protocol": _vid(in_app, world, "compression-none"), **_when("8", "12", "2026")}
    r = client.post(f"/clinic/patients/{world.patient_a}/sessions", data=data)
    assert r.status_code == 200
    text = text_of(r)
    assert "only 21 days after the session on Tue 17 Nov 2026" in text
    assert "72 hours day and night" in text and "at least 4 weeks between sessions" in text
    assert len(_ids(in_app, world.patient_a)) == 1


def test_the_anyway_tick_confirms_only_the_entry_it_was_ticked_for(client, world, in_app):
    """Warned about Tue 1 Dec, the clinician ticks "Book it anyway" and then changes the
    date: the new date is checked again (warned, the tick shown cleared), not booked on
    a tick given for another date."""
    login(client, "doc1@north.example")
    vid = _vid(in_app, world)
    url = f"/clinic/patients/{world.patient_a}/sessions"
    r = client.post(url, data={"protocol": vid, **_when("1", "12", "2026")})
    html = r.get_data(as_text=True)
    tick = re.search(r'<input[^>]*name="confirm_soon"[^>]*>', html).group(0)
    value = re.search(r'value="([^"]*)"', tick).group(1)
    assert value == f"2026-12-01T10:00 {vid}"
    changed = {"protocol": vid, "confirm_soon": value, **_when("24", "11", "2026")}
    r = client.post(url, data=changed)
    assert r.status_code == 200 and "only 7 days after the session on Tue 17 Nov" in text_of(r)
    tick = re.search(r'<input[^>]*name="confirm_soon"[^>]*>', r.get_data(as_text=True)).group(0)
    assert "checked" not in tick
    assert len(_ids(in_app, world.patient_a)) == 1
    r = client.post(url, data={"protocol": vid, "confirm_soon": value, **_when("1", "12", "2026")})
    assert r.status_code == 303
    assert len(_ids(in_app, world.patient_a)) == 2


def test_the_move_tick_confirms_only_the_date_it_was_ticked_for(client, world, in_app):
    login(client, "doc1@north.example")
    (booked,) = _ids(in_app, world.patient_b)  # Bob: booked tomorrow, nothing done yet
    vid = _vid(in_app, world)
    url = f"/clinic/patients/{world.patient_b}/sessions"
    assert client.post(url, data={"protocol": vid, **_when("1", "2", "2027")}).status_code == 303
    move = f"/clinic/sessions/{booked}/reschedule"
    r = client.post(move, data=_when("20", "1", "2027"))
    assert r.status_code == 200 and "Move it anyway" in text_of(r)
    r = client.post(move, data={"confirm_soon": "2027-01-20T10:00", **_when("25", "1", "2027")})
    assert r.status_code == 200 and "only 7 days before the session" in text_of(r)
    at = in_app(lambda: db.session.get(Treatment, booked).appointment_at)
    assert at.isoformat() == "2026-11-21T10:00:00+00:00"


def test_a_discharged_patients_booked_session_cannot_be_recorded_or_moved(client, world, in_app):
    """Discharged, Bob gets no reminders and no check-ins: a treatment recorded for him
    would have its aftercare questions, red flags included, never asked."""
    from app.clock import now

    (booked,) = _ids(in_app, world.patient_b)

    def discharge() -> None:
        db.session.get(Patient, world.patient_b).discharged_at = now()
        db.session.commit()

    in_app(discharge)
    login(client, "doc1@north.example")
    record = {
        **_when("20", "11", "2026", "10:00"),
        "sclerosant": "Polidocanol",
        "form": "liquid",
        "areas": "left calf",
        "checks_done": "y",
    }
    r = client.post(f"/clinic/sessions/{booked}/record", data=record)
    assert r.status_code == 400 and "Re-open their record before recording" in text_of(r)
    r = client.post(f"/clinic/sessions/{booked}/reschedule", data=_when("1", "12", "2026"))
    assert "Re-open their record before moving" in text_of(client.get(r.headers["Location"]))
    t = in_app(lambda: db.session.get(Treatment, booked))
    assert t.status == TreatmentStatus.SCHEDULED
    assert t.appointment_at.isoformat() == "2026-11-21T10:00:00+00:00"


@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL (TEST_DATABASE_URL)")
def test_two_clinicians_booking_the_same_slot_at_once_book_it_once(client, world, in_app):
    """A colleague's booking of Alice's 1 Dec 10:00 slot is being saved (the patient
    locked, not yet committed) when this one, confirmed, arrives. Without the lock it
    read no such session and booked a second; now it waits, sees it and books none."""
    from datetime import UTC
    from datetime import datetime

    login(client, "doc1@north.example")
    vid = _vid(in_app, world)
    data = {"protocol": vid, "confirm_soon": "y", **_when("1", "12", "2026")}
    answers: list[int] = []

    def book() -> None:
        r = client.post(f"/clinic/patients/{world.patient_a}/sessions", data=data)
        answers.append(r.status_code)

    with client.application.app_context():
        other = db.engine.connect()
    other_tx = other.begin()
    other.execute(sa.select(Patient.id).where(Patient.id == world.patient_a).with_for_update())
    other.execute(
        sa.insert(Treatment).values(
            patient_id=world.patient_a,
            protocol_version_id=vid,
            appointment_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        )
    )
    worker = threading.Thread(target=book)
    worker.start()
    time.sleep(0.5)  # this booking is now waiting on the patient's row
    other_tx.commit()
    other.close()
    worker.join(10)
    assert answers == [303]
    assert len(_ids(in_app, world.patient_a)) == 2  # the treatment given, and one booking


def test_a_double_submitted_move_is_audited_once(client, world, in_app):
    """The second identical move changes nothing, so it records no "moved from 1 Dec
    10:00 to 1 Dec 10:00" event in the audit trail."""
    login(client, "doc1@north.example")
    (booked,) = _ids(in_app, world.patient_b)
    url = f"/clinic/sessions/{booked}/reschedule"
    assert client.post(url, data=_when("23", "11", "2026")).status_code == 303
    assert client.post(url, data=_when("23", "11", "2026")).status_code == 303
    assert _audits(in_app, "move session") == 1
    at = in_app(lambda: db.session.get(Treatment, booked).appointment_at)
    assert at.isoformat() == "2026-11-23T10:00:00+00:00"


def test_a_discharged_patients_page_offers_no_record_or_move(client, world, in_app):
    """Both would be refused: the page says to re-open instead, and still offers to cancel."""
    from app.clock import now

    def discharge() -> None:
        db.session.get(Patient, world.patient_b).discharged_at = now()
        db.session.commit()

    in_app(discharge)
    login(client, "doc1@north.example")
    text = text_of(client.get(f"/clinic/patients/{world.patient_b}"))
    assert "Re-open the patient's record (above) to record or move this session." in text
    assert "Record treatment" not in text and "Move appointment" not in text
    assert "Cancel appointment" in text


def test_one_day_apart_is_said_in_the_singular(client, world, in_app):
    """The interval warning said "only 1 days after" (adversarial review, 2026-12-07)."""
    login(client, "doc1@north.example")
    vid = _vid(in_app, world)
    url = f"/clinic/patients/{world.patient_a}/sessions"
    data = {"protocol": vid, "confirm_soon": "y", **_when("1", "12", "2026")}
    assert client.post(url, data=data).status_code == 303
    r = client.post(url, data={"protocol": vid, **_when("2", "12", "2026")})
    assert r.status_code == 200
    assert "only 1 day after the session on Tue 1 Dec 2026" in text_of(r)
    assert "1 days" not in text_of(r)
