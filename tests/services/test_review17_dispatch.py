"""Review of discharge against the dispatcher (issue 17 point 4): reminders stop, even for
a row a dispatcher claimed just before the clinician pressed "Discharge"."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.services.notify import dispatch
from tests.conftest import login
from tests.services.test_outbox_lifecycle import _plan_all

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
