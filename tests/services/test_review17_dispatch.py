"""Review of discharge against the dispatcher (issue 17 point 4): reminders stop, even for
a row a dispatcher claimed just before the clinician pressed "Discharge"."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.services.notify import dispatch
from app.services.notify import enqueue
from tests.conftest import login
from tests.conftest import make_patient
from tests.services.test_outbox_lifecycle import _plan_all
from tests.web.test_patient_edit import details

DAY4 = datetime(2026, 11, 21, 9, 0, 30, tzinfo=UTC)  # Alice's day-4 reminder, 09:00 London


def _alice_with_a_phone(app, world, in_app, push_service, clock):
    _plan_all(in_app, world.patient_a, clock.now)
    alice = app.test_client()
    login(alice, "alice@patients.example")
    phone = push_service.new_subscription()
    r = alice.post("/patient/reminders/subscribe", json={"subscription": phone.info()})
    assert r.status_code == 200
    return phone


def _states(patient_id: int) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(OutboxMessage.state, sa.func.count())
        .where(OutboxMessage.patient_id == patient_id)
        .group_by(OutboxMessage.state)
    )
    return {state.value: n for state, n in rows}


def test_a_row_claimed_just_before_discharge_is_not_sent(
    app, world, in_app, push_service, sender, clock, monkeypatch
):
    """The dispatcher claims Alice's due reminder; before it looks her up to send, the
    clinician discharges her. The claimed row was held in memory and went out anyway,
    and its outcome overwrote the cancellation with "sent"."""
    phone = _alice_with_a_phone(app, world, in_app, push_service, clock)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    real = dispatch.recipients_of

    def discharged_meanwhile(rows):
        r = doc.post(f"/clinic/patients/{world.patient_a}/discharge", data={"confirm": "yes"})
        assert r.status_code == 303
        return real(rows)

    monkeypatch.setattr(dispatch, "recipients_of", discharged_meanwhile)
    report = in_app(dispatch.dispatch_due, sender, DAY4)
    assert report.claimed >= 1
    assert phone.received == []
    states = in_app(_states, world.patient_a)
    assert OutboxState.SENT.value not in states
    assert OutboxState.PENDING.value not in states and OutboxState.SENDING.value not in states


def test_a_dispatcher_that_wakes_after_the_discharge_sends_nothing(
    app, world, in_app, push_service, sender, clock
):
    """Two days of downtime, then the dispatcher runs after the discharge: nothing due
    for Alice is left to send, whatever its time."""
    phone = _alice_with_a_phone(app, world, in_app, push_service, clock)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert (
        doc.post(
            f"/clinic/patients/{world.patient_a}/discharge", data={"confirm": "yes"}
        ).status_code
        == 303
    )
    in_app(dispatch.run_until_empty, sender, datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    assert phone.received == []
    assert OutboxState.SENT.value not in in_app(_states, world.patient_a)


def test_a_time_zone_change_then_two_days_of_downtime_across_a_clock_change(
    app, client, world, in_app, push_service, sender, clock
):
    """A patient treated in New York moves to London on Friday 26 March 2027; the
    dispatcher is down until Sunday afternoon, after London's clocks went forward that
    night. What it finds due is screened as of now: one push per kind at most (no
    burst), nothing for a day already gone, and the rows left follow London's new
    offset (09:00 BST is 08:00 UTC)."""
    clock.now = datetime(2027, 3, 25, 16, 0, tzinfo=UTC)

    def make() -> int:
        clinic = db.session.get(Clinic, world.clinic1)
        p = make_patient(
            clinic, "nyc@patients.example", day=1, tz="America/New_York", now=clock.now
        )
        enqueue.replan_patient(p.id, clock.now)
        db.session.commit()
        return p.id

    pid = in_app(make)
    patient = app.test_client()
    login(patient, "nyc@patients.example")
    phone = push_service.new_subscription()
    r = patient.post("/patient/reminders/subscribe", json={"subscription": phone.info()})
    assert r.status_code == 200
    clock.now = datetime(2027, 3, 26, 16, 0, tzinfo=UTC)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    r = doc.post(
        f"/clinic/patients/{pid}/edit",
        data=details(name="Nyc", email="nyc@patients.example", phone="", timezone="Europe/London"),
    )
    assert r.status_code == 303
    clock.now = datetime(2027, 3, 28, 16, 0, tzinfo=UTC)  # two days later, after the change
    in_app(dispatch.run_until_empty, sender, clock.now)
    tags = [json.loads(m["plaintext"])["tag"] for m in phone.received]
    assert tags and len(tags) == len(set(tags)), tags  # at most one of each kind
    assert tags.count("sc-daily") == 1

    def left() -> list[tuple[str, datetime]]:
        return list(
            db.session.execute(
                sa.select(OutboxMessage.key, OutboxMessage.due_at).where(
                    OutboxMessage.patient_id == pid,
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                )
            )
        )

    waiting = in_app(left)
    assert all(due > clock.now for _, due in waiting), waiting  # nothing overdue left behind
    london = ZoneInfo("Europe/London")
    daily = sorted(due for key, due in waiting if key.startswith("daily:"))
    assert daily[0] == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    assert {d.astimezone(london).time() for d in daily} == {time(9, 0)}
