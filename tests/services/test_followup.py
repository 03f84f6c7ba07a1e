"""Follow-up state is written by the services next to the change, not by ORM events.

Each patient's ``last_seen_at`` and ``follow_until`` must equal what
``followup.backfill`` recomputes from scratch, after every way the app writes a
treatment or a check-in: recording a treatment (and recording it again later), booking
another session, a patient's check-in and its edit. A future write path that forgets
``note_checkin`` / ``note_treatment`` fails here.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import Treatment
from app.services.care import followup
from tests.conftest import login
from tests.conftest import version_id
from tests.services.test_outbox_lifecycle import RECORD
from tests.web.test_checkin import form


def _state(in_app) -> dict[int, tuple]:
    def q():
        rows = db.session.execute(
            sa.select(Patient.id, Patient.last_seen_at, Patient.follow_until).order_by(Patient.id)
        )
        return {pid: (seen, until) for pid, seen, until in rows}

    return in_app(q)


def _as_backfill_has_it(in_app) -> dict[int, tuple]:
    """What backfill computes, in a transaction that is rolled back."""

    def q():
        followup.backfill(db.session.connection())
        rows = db.session.execute(
            sa.select(Patient.id, Patient.last_seen_at, Patient.follow_until).order_by(Patient.id)
        )
        out = {pid: (seen, until) for pid, seen, until in rows}
        db.session.rollback()
        return out

    return in_app(q)


def _assert_consistent(in_app) -> None:
    # Patients with neither a treatment nor a check-in keep None; backfill skips them.
    kept, recomputed = _state(in_app), _as_backfill_has_it(in_app)
    assert kept == {pid: recomputed.get(pid, kept[pid]) for pid in kept}


def test_every_write_path_keeps_follow_up_state_as_backfill_computes_it(
    app, client, world, in_app, clock
):
    _assert_consistent(in_app)
    # Bob's booked session, recorded by the clinic.
    tid = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    login(client, "doc1@north.example")
    data = {"date": "2026-11-20", "time": "11:00", **RECORD}
    assert client.post(f"/clinic/sessions/{tid}/record", data=data).status_code == 303
    _assert_consistent(in_app)
    bob = _state(in_app)[world.patient_b]
    assert bob[0] is not None and bob[1] == bob[0] + timedelta(days=followup.FOLLOW_DAYS)

    # Recorded again with a later time (a correction): state follows it.
    later = {**data, "time": "11:30"}
    assert client.post(f"/clinic/sessions/{tid}/record", data=later).status_code == 303
    _assert_consistent(in_app)

    # Another session booked for Alice: nothing recorded, nothing changes.
    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    # Four days after her treatment: inside the minimum interval, confirmed.
    booked = {"date": "2026-11-21", "time": "10:00", "protocol": str(vid), "confirm_soon": "y"}
    before = _state(in_app)
    r = client.post(f"/clinic/patients/{world.patient_a}/sessions", data=booked)
    assert r.status_code == 303
    assert _state(in_app) == before

    # Alice checks in, then edits her check-in an hour later.
    patient = app.test_client()
    login(patient, "alice@patients.example")
    assert patient.post("/patient/checkin", data=form(pain="3")).status_code == 200
    _assert_consistent(in_app)
    first = _state(in_app)[world.patient_a][0]
    clock.advance(hours=1)
    login(patient, "alice@patients.example")
    assert patient.post("/patient/checkin", data=form(pain="4")).status_code == 200
    _assert_consistent(in_app)
    assert _state(in_app)[world.patient_a][0] == first + timedelta(hours=1)
