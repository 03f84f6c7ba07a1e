"""The dispatcher's exactly-once rules, in one process (issue 15 points 1 and 2).

Fencing tokens, lease renewal while sends are in flight, the clock read per batch,
outcomes committed per row with a bounded number in flight, and the lateness rules at
send time (validity windows, quiet hours, one reminder per kind after a gap, the
clinic's count of what was dropped). The real-process versions are in
tests/processes/test_dispatch_chaos.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import time as wall_time
from datetime import timedelta

import sqlalchemy as sa

from app.adapters.push import SendResult
from app.clock import advancing
from app.domain.reminders import decide_at_send
from app.extensions import db
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.models import Treatment
from app.services.notify import delivery
from app.services.notify import dispatch
from app.services.notify import enqueue
from app.services.notify import outbox
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import make_staff
from tests.conftest import text_of

AT = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)  # Mon 10:00 London


def _patient_with_rows(push_service, kinds, *, due=AT - timedelta(minutes=1), quiet=None):
    """One patient with one device and one row per kind (all due at ``due``)."""
    clinic = make_clinic("north")
    patient = make_patient(clinic, "alice@patients.example", day=3)
    if quiet is not None:
        patient.quiet_start, patient.quiet_end = quiet
    fake = push_service.new_subscription()
    info = fake.info()
    db.session.add(
        PushSubscription(
            patient_id=patient.id,
            endpoint=info["endpoint"],
            p256dh=info["keys"]["p256dh"],
            auth=info["keys"]["auth"],
        )
    )
    tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == patient.id))
    for i, kind in enumerate(kinds):
        db.session.add(
            OutboxMessage(
                patient_id=patient.id,
                treatment_id=tid,
                key=f"t:{i}",
                kind=kind,
                link="/patient/today",
                due_at=due,
                available_at=due,
                state=OutboxState.PENDING,
            )
        )
    db.session.commit()
    return patient.id


def _row_states(in_app) -> dict[str, OutboxState]:
    return in_app(lambda: {r.key: r.state for r in db.session.scalars(sa.select(OutboxMessage))})


# ------------------------------------------------------------------ fencing


def test_an_outcome_is_written_only_by_the_holder_of_the_current_claim(
    app, in_app, push_service, sender
):
    """The dispatcher stalls past its lease and another takes the row back: the first
    one's answer (even a success) must not overwrite the new claim."""
    in_app(_patient_with_rows, push_service, ["daily"])
    real_send = sender.send
    thief: list = []

    def stall_then_lose_the_claim(*args, **kwargs):
        with app.app_context():  # another dispatcher, two leases later
            thief.extend(outbox.claim(AT + timedelta(minutes=2), 10, timedelta(seconds=60), "b"))
        return real_send(*args, **kwargs)

    sender.send = stall_then_lose_the_claim
    report = in_app(dispatch.dispatch_due, sender, AT, renew=False)
    assert len(thief) == 1 and report.sent == 0 and report.lost == 1
    row = in_app(lambda: db.session.scalar(sa.select(OutboxMessage)))
    assert row.state == OutboxState.SENDING and row.claim_token == "b"
    assert row.sent_at is None


def test_a_lease_is_renewed_while_its_sends_are_in_flight(app, in_app, push_service, sender):
    """Four rows sent one at a time, each taking 0.6 s, under a 0.9 s lease: the batch
    outlasts its lease twice over, yet another dispatcher looking at the real clock in
    the middle finds nothing to take, and each row is sent once."""
    in_app(_patient_with_rows, push_service, ["daily", "milestone", "checklist", "comment"])
    clock = advancing(AT)
    stolen: list = []
    real_send = sender.send
    calls = []

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.6)
        if len(calls) == 3:  # ~1.2 s after the claim: its first lease has run out
            with app.app_context():
                stolen.extend(outbox.claim(clock(), 10, timedelta(seconds=60)))
        return real_send(*args, **kwargs)

    sender.send = slow
    report = in_app(
        dispatch.dispatch_due, sender, AT, lease=timedelta(seconds=0.9), workers=1, clock=clock
    )
    assert stolen == []
    assert report.sent == 4 and report.lost == 0
    assert sorted(push_service.per_row().values()) == [1, 1, 1, 1]


def test_without_renewal_the_same_stall_loses_the_rows(app, in_app, push_service, sender):
    """The control for the test above: with renewal off, the other dispatcher takes the
    rows not yet recorded, which is what renewing prevents."""
    in_app(_patient_with_rows, push_service, ["daily", "milestone", "checklist", "comment"])
    clock = advancing(AT)
    stolen: list = []
    real_send = sender.send
    calls = []

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.6)
        if len(calls) == 3:
            with app.app_context():
                stolen.extend(outbox.claim(clock(), 10, timedelta(seconds=60)))
        return real_send(*args, **kwargs)

    sender.send = slow
    in_app(
        dispatch.dispatch_due,
        sender,
        AT,
        lease=timedelta(seconds=0.9),
        workers=1,
        clock=clock,
        renew=False,
    )
    assert len(stolen) >= 1


def test_each_batch_reads_the_clock(app, in_app, push_service, sender, monkeypatch):
    """A long backlog: the second batch's claim (and its lease) uses the time when it
    starts, not the time the pass began."""
    in_app(_patient_with_rows, push_service, ["daily", "milestone", "checklist", "comment"])
    seen: list[datetime] = []
    real_claim = outbox.claim

    def spy(now, limit, lease, token=None):
        seen.append(now)
        return real_claim(now, limit, lease, token)

    monkeypatch.setattr(outbox, "claim", spy)
    ticks = iter(AT + timedelta(seconds=5 * i) for i in range(1000))
    in_app(dispatch.run_until_empty, sender, lambda: next(ticks), batch=2)
    assert len(seen) == 3 and seen[0] < seen[1] < seen[2], seen


def test_no_more_than_the_in_flight_bound_is_sent_before_its_outcome_is_committed(
    app, in_app, push_service, sender, monkeypatch
):
    """While rows are being sent, the rows sent but not yet recorded (what a kill -9
    would repeat) never exceed ``workers``; the others are committed as they return."""
    kinds = ["daily", "milestone", "checklist", "comment", "next-session", "alert"]

    def build():
        _patient_with_rows(push_service, kinds[:5])
        # More patients so the batch has more rows than the bound.
        for n in range(1, 4):
            clinic = db.session.scalar(sa.select(Clinic))
            p = make_patient(clinic, f"p{n}@patients.example", day=3)
            fake = push_service.new_subscription().info()
            db.session.add(
                PushSubscription(
                    patient_id=p.id,
                    endpoint=fake["endpoint"],
                    p256dh=fake["keys"]["p256dh"],
                    auth=fake["keys"]["auth"],
                )
            )
            tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == p.id))
            for i, kind in enumerate(kinds[:5]):
                due = AT - timedelta(minutes=1)
                db.session.add(
                    OutboxMessage(
                        patient_id=p.id,
                        treatment_id=tid,
                        key=f"t:{i}",
                        kind=kind,
                        link="/patient/today",
                        due_at=due,
                        available_at=due,
                        state=OutboxState.PENDING,
                    )
                )
        db.session.commit()

    in_app(build)
    lock = threading.Lock()
    counts = {"started": 0, "recorded": 0}
    gaps: list[int] = []
    visible: list[tuple[int, int]] = []
    real_send, real_record = sender.send, delivery._record

    def watch(*args, **kwargs):
        with lock:
            counts["started"] += 1
            gaps.append(counts["started"] - counts["recorded"])
        time.sleep(0.05)
        return real_send(*args, **kwargs)

    def record(*args, **kwargs):
        real_record(*args, **kwargs)
        with lock:
            counts["recorded"] += 1
        # Committed the moment it is written: another session sees it already.
        with app.app_context():
            seen = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.SENT)
            )
        visible.append((seen, counts["recorded"]))

    sender.send = watch
    monkeypatch.setattr(delivery, "_record", record)
    report = in_app(dispatch.dispatch_due, sender, AT, workers=3)
    assert report.sent == 20 and counts == {"started": 20, "recorded": 20}
    # Sends started but not yet recorded (what a kill -9 could repeat): never above 3.
    assert max(gaps) == 3, gaps
    assert all(seen == recorded for seen, recorded in visible), visible


# ------------------------------------------------------------------ lateness


def test_after_two_days_down_yesterdays_prompts_are_dropped_not_sent_at_night(
    app, client, in_app, push_service, sender
):
    """Alice was treated on Fri 20 Nov; the worker comes back at 03:00 on Mon 23 (quiet
    hours). Nothing is sent then; the past days' prompts are dropped, and the clinic
    sees how many. At 09:00 only Monday's prompt (and the 72 h milestone at 10:00) go."""

    def build():
        clinic = make_clinic("north")
        make_staff(clinic, "doc@north.example")
        patient = make_patient(clinic, "alice@patients.example", day=0)
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient.id))
        enqueue.enqueue_reminders(t, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
        fake = push_service.new_subscription().info()
        db.session.add(
            PushSubscription(
                patient_id=patient.id,
                endpoint=fake["endpoint"],
                p256dh=fake["keys"]["p256dh"],
                auth=fake["keys"]["auth"],
            )
        )
        db.session.commit()
        return patient.id

    pid = in_app(build)
    night = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    report = in_app(dispatch.run_until_empty, sender, night)
    assert push_service.delivered() == [] and report.sent == 0
    states = _row_states(in_app)
    dropped = sorted(k for k, s in states.items() if s == OutboxState.DROPPED)
    # Sat's and Sun's prompts and the 24 h/48 h milestones were over with their days;
    # the checklist ones with the appointment.
    assert {"daily:1", "daily:2"} <= set(dropped)
    assert not any(k.startswith("daily:3") for k in dropped)
    assert all(s != OutboxState.SENT for s in states.values())

    morning = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    report = in_app(dispatch.run_until_empty, sender, morning)
    bodies = [json.loads(p)["body"] for p in push_service.delivered()]
    assert sorted(bodies) == sorted(
        [
            "Your check-in and aftercare for today are ready.",
            "There is an update to your aftercare today.",
        ]
    ), bodies
    login(client, "doc@north.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    n = len(dropped)
    assert f"{n} reminders were not sent because they would have arrived too late" in page


def test_quiet_hours_are_checked_again_at_send_time(app, in_app, push_service, sender):
    """A clinic comment queued at 20:55 reaches a worker at 21:30 (quiet hours from
    21:00): it waits until 08:00 and goes then, once."""
    due = datetime(2026, 11, 23, 20, 55, tzinfo=UTC)
    in_app(_patient_with_rows, push_service, ["comment"], due=due)
    report = in_app(dispatch.run_until_empty, sender, datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    assert report.later == 1 and report.sent == 0 and push_service.delivered() == []
    row = in_app(lambda: db.session.scalar(sa.select(OutboxMessage)))
    assert row.state == OutboxState.PENDING and row.attempts == 0
    assert row.available_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    morning = datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC)
    assert in_app(dispatch.run_until_empty, sender, morning).sent == 1
    assert len(push_service.delivered()) == 1


def test_a_catch_up_sends_one_reminder_per_kind_with_a_topic_that_replaces(
    app, in_app, push_service, sender
):
    """Three "before your appointment" reminders and two "today" prompts are due at
    once: one push of each kind, with Topic and tag naming the kind (the push service
    and the phone replace an older one of that kind instead of stacking)."""

    def build():
        pid = _patient_with_rows(push_service, ["checklist"] * 3 + ["daily"] * 2)
        # Different due times: the newest of each kind is the one kept.
        rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for n, row in enumerate(rows):
            row.due_at = row.available_at = AT - timedelta(minutes=30 - n)
        db.session.commit()
        return pid, [r.id for r in rows]

    _, ids = in_app(build)
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.sent == 2 and report.dropped == 3
    received = next(iter(push_service.subs.values())).received
    assert sorted(r["topic"] for r in received) == ["sc-checklist", "sc-daily"]
    for r in received:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", r["topic"]), r["topic"]
    messages = [json.loads(m["plaintext"]) for m in received]
    assert sorted(m["data"]["id"] for m in messages) == [ids[2], ids[4]]
    assert {m["tag"] for m in messages} == {"sc-checklist", "sc-daily"}
    errors = in_app(
        lambda: set(
            db.session.scalars(
                sa.select(OutboxMessage.last_error).where(
                    OutboxMessage.state == OutboxState.DROPPED
                )
            )
        )
    )
    assert errors == {"replaced by a newer reminder of the same kind"}


def test_a_reminder_for_an_appointment_that_has_passed_is_dropped(
    app, in_app, push_service, sender
):
    """A checklist reminder for an appointment four hours gone is not sent."""

    def build():
        _patient_with_rows(push_service, ["checklist"], quiet=(wall_time(0), wall_time(0)))
        row = db.session.scalar(sa.select(OutboxMessage))
        row.expires_at = AT - timedelta(hours=4)  # the appointment
        row.due_at = row.available_at = AT - timedelta(hours=28)
        db.session.commit()

    in_app(build)
    report = in_app(dispatch.run_until_empty, sender, AT)
    assert report.dropped == 1 and push_service.delivered() == []
    assert _row_states(in_app) == {"t:0": OutboxState.DROPPED}


def test_a_clinicians_alert_ignores_patient_quiet_hours(app, in_app, push_service, sender):
    """Sending decisions for staff devices use no quiet hours (they have none)."""
    decision = decide_at_send(
        kind="alert",
        due=AT,
        expires=None,
        now=datetime(2026, 11, 23, 23, 0, tzinfo=UTC),
        tz=None,
        quiet=None,
        time_critical=False,
    )
    assert decision.action == "send"


def test_sendresult_failures_still_fence(app, in_app, push_service, sender):
    """A failure answer (500) from a dispatcher that lost its claim leaves the new
    claim alone as well: retry and failure writes are fenced like success."""
    in_app(_patient_with_rows, push_service, ["daily"])

    def fail_after_losing(*args, **kwargs):
        with app.app_context():
            outbox.claim(AT + timedelta(minutes=2), 10, timedelta(seconds=60), "b")
        return SendResult(500, error="HTTP 500")

    sender.send = fail_after_losing
    report = in_app(dispatch.dispatch_due, sender, AT, renew=False)
    assert report.retried == 0 and report.lost == 1
    row = in_app(lambda: db.session.scalar(sa.select(OutboxMessage)))
    assert row.state == OutboxState.SENDING and row.claim_token == "b"
