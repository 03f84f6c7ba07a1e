"""Reminders of one kind due at the very same instant (two checklist items due 24 h
before the appointment): one notification goes out, and the others are marked
``merged``, not "dropped: replaced by a newer reminder". Before, the clinic's count of
reminders "not sent" grew by one for every item sharing a due time with another, though
the patient had been reminded.
"""

from __future__ import annotations

from datetime import time as wall_time
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.services.notify import dispatch
from app.services.notify import enqueue
from app.services.notify.subscriptions import delivery_state
from tests.services.test_dispatch_exactly_once import AT
from tests.services.test_dispatch_exactly_once import _patient_with_rows


def _states(in_app) -> dict[str, tuple[OutboxState, str]]:
    return in_app(
        lambda: {
            r.key: (r.state, r.last_error) for r in db.session.scalars(sa.select(OutboxMessage))
        }
    )


def test_two_checklist_items_due_together_send_one_push_and_drop_nothing(
    app, in_app, push_service, sender
):
    pid = in_app(_patient_with_rows, push_service, ["checklist", "checklist", "daily"])
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.sent == 2  # one checklist push, one daily push
    assert report.merged == 1 and report.dropped == 0
    received = next(iter(push_service.subs.values())).received
    assert sorted(r["topic"] for r in received) == ["sc-checklist", "sc-daily"]
    states = _states(in_app)
    assert sorted(s for s, _ in states.values()) == sorted(
        [OutboxState.SENT, OutboxState.SENT, OutboxState.MERGED]
    )
    merged = next(err for s, err in states.values() if s == OutboxState.MERGED)
    assert "same time" in merged
    # What the clinician reads: nothing "not sent".
    assert in_app(delivery_state, pid).dropped_count == 0


def test_an_older_one_of_the_kind_is_still_dropped_as_replaced(app, in_app, push_service, sender):
    """Only a tie is merged: after downtime, yesterday's reminder is still replaced."""

    def build():
        pid = _patient_with_rows(push_service, ["checklist", "checklist"])
        first = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).first()
        first.due_at = first.available_at = AT - timedelta(hours=5)
        db.session.commit()
        return pid

    pid = in_app(build)
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.sent == 1 and report.dropped == 1 and report.merged == 0
    assert in_app(delivery_state, pid).dropped_count == 1


def _rows_in_order():
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_a_time_critical_tie_is_sent_when_its_partner_waits_for_quiet_hours(
    app, in_app, push_service, sender
):
    """The kept row (the higher id) waits for the end of quiet hours; its time-critical
    twin may not wait, so it is sent on its own, never marked merged."""

    def build():
        _patient_with_rows(
            push_service, ["checklist", "checklist"], quiet=(wall_time(9), wall_time(11))
        )
        first = _rows_in_order()[0]
        first.time_critical = True
        db.session.commit()

    in_app(build)
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.sent == 1 and report.later == 1 and report.merged == 0
    states = sorted(s for s, _ in _states(in_app).values())
    assert states == sorted([OutboxState.SENT, OutboxState.PENDING])


def test_a_tie_is_sent_itself_when_its_partner_is_too_late(app, in_app, push_service, sender):
    def build():
        _patient_with_rows(push_service, ["checklist", "checklist"])
        kept = _rows_in_order()[1]
        kept.expires_at = AT - timedelta(seconds=10)
        db.session.commit()

    in_app(build)
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.sent == 1 and report.dropped == 1 and report.merged == 0


def test_a_merged_row_is_due_again_when_its_session_moves_a_day_later(
    app, in_app, push_service, sender
):
    """``merged`` counts as finished: like a sent reminder, it is re-armed when its
    session moves a day or more later (enqueue._FINISHED), so the patient is reminded
    for the real date. Without the state in that set it stayed merged for good."""
    from app.models import Treatment
    from tests.conftest import make_clinic
    from tests.conftest import make_patient

    def build():
        patient = make_patient(make_clinic("tie"), "tie@patients.example", day=None, now=AT)
        enqueue.replan_patient(patient.id, AT)
        db.session.commit()
        row = next(r for r in _rows_in_order() if r.kind == "checklist")
        row.state = OutboxState.MERGED
        db.session.commit()
        return patient.id, row.id

    pid, row_id = in_app(build)

    def move():
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == pid))
        t.appointment_at = t.appointment_at + timedelta(days=3)
        enqueue.replan_patient(pid, AT)
        db.session.commit()
        return db.session.get(OutboxMessage, row_id).state

    assert in_app(move) == OutboxState.PENDING
