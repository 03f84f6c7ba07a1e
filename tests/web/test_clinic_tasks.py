"""The clinic's own tasks are not the patient's overdue tasks (issue 14 point 10).

A duplex scan or consultation (``by = "clinic"`` in the protocol) is told to the patient
as "your clinic will ...", cannot be ticked, and recording the treatment asks the
clinician to confirm it was done; the confirmation is stored and audited.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from app.extensions import db
from app.models import AuditEvent
from app.models import ChecklistTick
from app.models import OutboxMessage
from app.models import Treatment
from app.models import TreatmentStatus
from tests.conftest import NOW
from tests.conftest import PROTOCOL_DIR
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of

RECORD = {
    "date": "2026-11-20",
    "time": "11:15",
    "sclerosant": "Polidocanol",
    "form": "foam",
    "concentration": "0.5%",
    "areas": "right calf",
    "compression": "class 2",
}


def _bob_treatment(in_app, world) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )


# ------------------------------------------------------------------ protocol data


def test_shipped_protocols_mark_the_scan_and_consultation_as_the_clinics():
    for name in ("compression-24h", "compression-72h", "compression-none"):
        text = Path(f"{PROTOCOL_DIR}/{name}.toml").read_text(encoding="utf-8")
        protocol = parse_protocol(text, name)
        by = {item.key: item.by for item in protocol.checklist}
        assert by["screening"] == "clinic"
        assert by["no-lotions"] == "patient"
        if name == "compression-72h":
            assert by["duplex-scan"] == "clinic"


def test_by_must_be_patient_or_clinic_and_a_clinic_task_asks_no_photos():
    text = Path(f"{PROTOCOL_DIR}/compression-72h.toml").read_text(encoding="utf-8")
    bad = text.replace('by = "clinic"', 'by = "nurse"', 1)
    try:
        parse_protocol(bad, "bad.toml")
    except ProtocolError as exc:
        assert "field 'by': must be one of patient, clinic" in str(exc)
    else:  # pragma: no cover - the assertion above is the test
        raise AssertionError("by = 'nurse' was accepted")
    photo = text.replace(
        'due = "day -7"\nby = "clinic"', 'due = "day -7"\nby = "clinic"\nphoto = true', 1
    )
    try:
        parse_protocol(photo, "photo.toml")
    except ProtocolError as exc:
        assert "cannot ask the patient for photos" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a clinic task with photo = true was accepted")


# ------------------------------------------------------------------ patient side


def test_patient_cannot_tick_a_clinic_task(client, world, in_app):
    login(client, "bob@patients.example")
    page = client.get("/patient/checklist").get_data(as_text=True)
    # No tick button for the scan: the only form actions are the patient's items.
    assert "/patient/checklist/duplex-scan" not in page
    assert "/patient/checklist/screening" not in page
    assert client.post("/patient/checklist/duplex-scan", data={"done": "1"}).status_code == 404
    assert in_app(count, ChecklistTick) == 0


def test_no_patient_reminder_for_a_clinic_task(world, in_app):
    from app.services.notify import enqueue

    def plan() -> None:
        # Booked a month ahead, so every checklist reminder is still in the future.
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == world.patient_b))
        t.appointment_at = NOW + timedelta(days=30)
        enqueue.replan_patient(world.patient_b, NOW)
        db.session.commit()

    in_app(plan)
    keys = in_app(lambda: set(db.session.scalars(sa.select(OutboxMessage.key))))
    assert "checklist:no-lotions" in keys
    assert "checklist:duplex-scan" not in keys and "checklist:screening" not in keys


# ------------------------------------------------------------------ clinician side


def test_recording_needs_the_clinic_tasks_confirmed_and_keeps_what_was_typed(client, world, in_app):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    form = client.get(f"/clinic/sessions/{tid}/record")
    assert "Scan the veins of your legs (duplex ultrasound)" in text_of(form)
    assert 'name="checks_done"' in form.get_data(as_text=True)
    r = client.post(f"/clinic/sessions/{tid}/record", data=RECORD)
    assert r.status_code == 400
    page = text_of(r)
    assert "Confirm that these were done before recording the treatment" in page
    assert "Scan the veins of your legs (duplex ultrasound)" in page
    html = r.get_data(as_text=True)
    assert 'value="right calf"' in html and 'value="Polidocanol"' in html  # kept
    t = in_app(lambda: db.session.get(Treatment, tid))
    assert t.status == TreatmentStatus.SCHEDULED and t.checks_confirmed_at is None


def test_confirmation_is_recorded_who_when_and_audited(client, world, in_app, clock):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/sessions/{tid}/record", data={**RECORD, "checks_done": "y"})
    assert r.status_code == 303
    t = in_app(lambda: db.session.get(Treatment, tid))
    assert t.status == TreatmentStatus.DONE
    assert t.checks_confirmed.split() == ["screening", "duplex-scan"]
    assert t.checks_confirmed_at == clock.now and t.checks_confirmed_by_id == world.clinician1
    events = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "confirm")
        ).all()
    )
    assert len(events) == 1
    assert events[0].patient_id == world.patient_b and events[0].actor_id == world.clinician1
    assert "duplex-scan" in events[0].detail
    # Correcting the record later keeps the first confirmation (who and when it was).
    clock.advance(minutes=5)
    r = client.post(
        f"/clinic/sessions/{tid}/record",
        data={**RECORD, "areas": "both calves", "checks_done": "y"},
    )
    assert r.status_code == 303
    t = in_app(lambda: db.session.get(Treatment, tid))
    assert t.areas == "both calves"
    assert t.checks_confirmed_at == clock.now - timedelta(minutes=5)
    assert "Confirmed" in text_of(client.get(f"/clinic/sessions/{tid}/record"))


def test_record_of_another_clinics_session_is_404_and_patients_are_refused(
    app, client, world, in_app
):
    tid = _bob_treatment(in_app, world)
    login(client, "doc2@south.example")
    assert client.get(f"/clinic/sessions/{tid}/record").status_code == 404
    r = client.post(f"/clinic/sessions/{tid}/record", data={**RECORD, "checks_done": "y"})
    assert r.status_code == 404
    bob = app.test_client()
    login(bob, "bob@patients.example")
    r = bob.post(f"/clinic/sessions/{tid}/record", data={**RECORD, "checks_done": "y"})
    assert r.status_code == 404
    t = in_app(lambda: db.session.get(Treatment, tid))
    assert t.status == TreatmentStatus.SCHEDULED and t.checks_confirmed_at is None
