"""Reminders of one kind due at the very same instant (two checklist items due 24 h
before the appointment): one notification goes out, and the others are marked
``merged``, not "dropped: replaced by a newer reminder". Before, the clinic's count of
reminders "not sent" grew by one for every item sharing a due time with another, though
the patient had been reminded.
"""

from __future__ import annotations

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


def test_a_merged_row_is_finished_and_not_planned_again(app, in_app, push_service, sender):
    """``merged`` is an end state: re-planning the patient leaves it as it is."""
    pid = in_app(_patient_with_rows, push_service, ["checklist", "checklist"])
    in_app(dispatch.run_until_empty, sender, AT)
    assert OutboxState.MERGED in enqueue._FINISHED
    before = {k: v for k, v in _states(in_app).items() if k.startswith("t:")}
    assert sorted(s for s, _ in before.values()) == [OutboxState.MERGED, OutboxState.SENT]

    def replan():
        enqueue.replan_patient(pid, AT + timedelta(minutes=1))
        db.session.commit()

    in_app(replan)
    after = {k: v for k, v in _states(in_app).items() if k.startswith("t:")}
    assert after == before
