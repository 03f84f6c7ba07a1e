"""The outbox through a patient's course, driven through the clinician's and patient's
pages: recording writes reminders once, a later session ends the earlier one's, quiet
hours move what is pending, comments and alerts survive re-planning, and the clinician
sees only the patient's own deliveries. Also the Retry-After header, a row cancelled
while it is being sent, and VAPID configuration at start-up.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.adapters.push import load_vapid
from app.adapters.push import parse_retry_after
from app.adapters.push import private_key_b64u
from app.extensions import db
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Treatment
from app.services.notify import dispatch
from app.services.notify import enqueue
from config import ConfigError
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.conftest import version_id

ROOT = Path(__file__).resolve().parents[2]


def _rows(in_app, treatment_id: int) -> dict[str, tuple[OutboxState, datetime]]:
    def q():
        rows = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.treatment_id == treatment_id)
        )
        return {r.key: (r.state, r.due_at) for r in rows}

    return in_app(q)


def _treatments(in_app, patient_id: int) -> list[int]:
    return in_app(
        lambda: list(
            db.session.scalars(
                sa.select(Treatment.id)
                .where(Treatment.patient_id == patient_id)
                .order_by(Treatment.appointment_at)
            )
        )
    )


def _plan_all(in_app, patient_id: int, now: datetime) -> None:
    in_app(lambda: (enqueue.replan_patient(patient_id, now), db.session.commit()))


def _staff_alert(in_app, world, tid: int, n: int, at: datetime, state=OutboxState.PENDING):
    """A queued push about Alice to her clinician's phone, as a same-day answer makes."""
    staff = world.clinician1

    def add():
        db.session.add(
            OutboxMessage(
                patient_id=world.patient_a,
                treatment_id=tid,
                recipient_user_id=staff,
                key=f"alert:{n}:{staff}",
                kind="alert",
                link="/clinic/",
                time_critical=True,
                due_at=at,
                available_at=at,
                state=state,
                sent_at=at if state == OutboxState.SENT else None,
                last_error="HTTP 400" if state == OutboxState.FAILED else "",
            )
        )
        db.session.commit()
        return f"alert:{n}:{staff}"

    return in_app(add)


RECORD = {
    "sclerosant": "Polidocanol",
    "form": "liquid",
    "concentration": "0.5%",
    "areas": "left calf",
    "compression": "class 2",
    "checks_done": "y",  # the 72 h protocol's duplex scan and consultation were done
}


def test_recording_a_treatment_writes_its_reminders_once(app, client, world, in_app):
    (tid,) = _treatments(in_app, world.patient_b)
    login(client, "doc1@north.example")
    data = {"date": "2026-11-20", "time": "11:00", **RECORD}
    assert client.post(f"/clinic/sessions/{tid}/record", data=data).status_code == 303
    first = _rows(in_app, tid)
    daily = sorted(int(k.split(":")[1]) for k in first if k.startswith("daily:"))
    assert daily == list(range(1, 29)), "a check-in reminder every day to day 28"
    assert {"milestone:stockings-night-off", "next-session"} <= set(first)
    assert all(state == OutboxState.PENDING for state, _ in first.values())
    # Recorded again (double submit, or a correction of the same time): the same rows.
    assert client.post(f"/clinic/sessions/{tid}/record", data=data).status_code == 303
    assert _rows(in_app, tid) == first
    count = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.treatment_id == tid)
        )
    )
    assert count == len(first)


def test_a_later_session_ends_the_earlier_sessions_reminders(app, client, world, in_app, clock):
    # Alice was treated on Tue 17 Nov at 10:00 London (day 3 on Fri 20 Nov).
    _plan_all(in_app, world.patient_a, clock.now)
    (first,) = _treatments(in_app, world.patient_a)
    before = _rows(in_app, first)
    assert before["next-session"][0] == OutboxState.PENDING
    assert before["daily:28"][0] == OutboxState.PENDING

    login(client, "doc1@north.example")
    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    # Four days after her treatment: inside the minimum interval, confirmed.
    booked = {"date": "2026-11-21", "time": "10:00", "protocol": str(vid), "confirm_soon": "y"}
    r = client.post(f"/clinic/patients/{world.patient_a}/sessions", data=booked)
    assert r.status_code == 303
    # A second session is booked: no "time to book your next session" any more.
    assert _rows(in_app, first)["next-session"][0] == OutboxState.CANCELLED
    assert _rows(in_app, first)["daily:28"][0] == OutboxState.PENDING

    clock.advance(days=1)  # Sat 21 Nov 12:00: the session happened at 10:00
    login(client, "doc1@north.example")  # the clinician's sign-in idled out meanwhile
    (_, second) = _treatments(in_app, world.patient_a)
    data = {"date": "2026-11-21", "time": "10:00", **RECORD}
    assert client.post(f"/clinic/sessions/{second}/record", data=data).status_code == 303
    after = _rows(in_app, first)
    # Day 4 of the first session (Sat 09:00) came before the second treatment; from
    # then on the second session's aftercare is what Today shows and what is reminded.
    assert after["daily:4"][0] == OutboxState.PENDING
    assert all(after[f"daily:{n}"][0] == OutboxState.CANCELLED for n in range(5, 29))
    newer = _rows(in_app, second)
    assert newer["daily:1"] == (OutboxState.PENDING, datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    assert newer["next-session"][0] == OutboxState.PENDING


def test_changing_quiet_hours_moves_pending_reminders(app, client, in_app, clock):
    from datetime import time as clock_time

    def build():
        clinic = make_clinic("north")
        return make_patient(clinic, "alice@patients.example", day=0, at=clock_time(22, 30)).id

    pid = in_app(build)
    _plan_all(in_app, pid, clock.now)
    (tid,) = _treatments(in_app, pid)
    # 72 h after Fri 22:30 is Mon 22:30, inside the default 21:00-08:00: Tue 08:00.
    key = "milestone:stockings-night-off"
    assert _rows(in_app, tid)[key][1] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    login(client, "alice@patients.example")
    r = client.post("/patient/reminders/quiet-hours", data={"start": "23:00", "end": "07:00"})
    assert r.status_code == 303
    assert _rows(in_app, tid)[key] == (
        OutboxState.PENDING,
        datetime(2026, 11, 23, 22, 30, tzinfo=UTC),
    )


def test_a_comment_waits_for_quiet_hours_and_survives_re_planning(
    app, client, world, in_app, clock
):
    clock.now = datetime(2026, 11, 20, 22, 15, tzinfo=UTC)  # 22:15 in London
    _plan_all(in_app, world.patient_a, clock.now)
    (tid,) = _treatments(in_app, world.patient_a)
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": "Looks good."})
    assert r.status_code == 303
    comments = {k: v for k, v in _rows(in_app, tid).items() if k.startswith("comment:")}
    assert list(comments.values()) == [
        (OutboxState.PENDING, datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    ]
    alert = _staff_alert(in_app, world, tid, 1, clock.now)
    # The patient changes quiet hours, which re-plans every session: the comment must
    # not be cancelled, and the alert is untouched.
    patient = app.test_client()
    login(patient, "alice@patients.example")
    patient.post("/patient/reminders/quiet-hours", data={"start": "22:00", "end": "07:00"})
    rows = _rows(in_app, tid)
    assert rows[next(iter(comments))][0] == OutboxState.PENDING
    assert rows[alert][0] == OutboxState.PENDING


def test_clinician_sees_only_the_patients_own_deliveries_and_failures(
    app, client, world, in_app, push_service, sender, clock
):
    _plan_all(in_app, world.patient_a, clock.now)
    (tid,) = _treatments(in_app, world.patient_a)
    # Clinic alerts about Alice went to the clinician's phone: one delivered, one failed.
    _staff_alert(in_app, world, tid, 0, clock.now, OutboxState.SENT)
    _staff_alert(in_app, world, tid, 1, clock.now, OutboxState.FAILED)
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Last delivered: none yet" in page and "could not be delivered" not in page

    # Alice's own phone refuses a reminder (400: not retried): the clinician sees when.
    alice = app.test_client()
    login(alice, "alice@patients.example")
    phone = push_service.new_subscription()
    phone.respond = (400, {})
    assert (
        alice.post("/patient/reminders/subscribe", json={"subscription": phone.info()}).status_code
        == 200
    )
    at = datetime(2026, 11, 21, 9, 0, 30, tzinfo=UTC)  # day 4's reminder, 09:00 London
    # Earlier reminders are past their time and dropped; day 4's is sent and refused.
    in_app(dispatch.run_until_empty, sender, at)
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert (
        "1 reminder could not be delivered; the last on Sat 21 Nov 2026, 09:00 (HTTP 400)" in page
    ), page


def test_a_row_cancelled_while_it_is_being_sent_stays_cancelled(
    app, client, world, in_app, push_service, sender, clock
):
    """The clinician cancels the appointment while the dispatcher waits on the push
    service, which then fails (500): the row must not come back as pending."""
    (tid,) = _treatments(in_app, world.patient_b)  # Bob: booked for tomorrow
    _plan_all(in_app, world.patient_b, clock.now)
    bob = app.test_client()
    login(bob, "bob@patients.example")
    phone = push_service.new_subscription()
    phone.respond = (500, {})
    assert (
        bob.post("/patient/reminders/subscribe", json={"subscription": phone.info()}).status_code
        == 200
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    real_send = sender.send

    def send_while_cancelled(*args, **kwargs):
        assert (
            doc.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}).status_code == 303
        )
        return real_send(*args, **kwargs)

    sender.send = send_while_cancelled
    # The first reminder, while it is still worth sending.
    first = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.min(OutboxMessage.available_at)).where(
                OutboxMessage.treatment_id == tid
            )
        )
    )
    report = in_app(dispatch.dispatch_due, sender, first + timedelta(seconds=30), batch=1)
    # Two checklist reminders fall due at that moment. A tie is never "replaced"; its
    # partner is not in this batch of one, so the row claimed is sent on its own, and
    # the session is cancelled while it is: the 500's retry is not written over it.
    assert report.claimed == 1 and report.dropped == 0 and report.lost == 1
    assert report.retried == 0 and phone.received == []
    report = in_app(dispatch.dispatch_due, sender, first + timedelta(seconds=30), batch=1)
    assert report.claimed == 0  # the other was cancelled with the session
    states = {state for state, _ in _rows(in_app, tid).values()}
    assert states == {OutboxState.CANCELLED}


def test_retry_after_as_seconds_or_as_a_date():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(minutes=5), usegmt=True)
    assert later.endswith("GMT")
    assert parse_retry_after(later, now.timestamp()) == 300
    assert parse_retry_after("120", now.timestamp()) == 120
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True)) == 0
    assert parse_retry_after("soon") is None and parse_retry_after("") is None
    # A 429 with a date waits at least until that date.
    wait = dispatch.backoff(0, parse_retry_after(later, now.timestamp()))
    assert wait >= timedelta(minutes=5)


def _vapid_app(tmp_path, **config) -> Flask:
    app = Flask("vapid-check", instance_path=str(tmp_path / "instance"))
    app.config.update(config)
    return app


def test_production_refuses_to_start_without_a_vapid_key_or_a_real_subject(tmp_path):
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY"):
        load_vapid(_vapid_app(tmp_path, VAPID_SUBJECT="mailto:ops@clinic.example"))
    for subject in (None, "ops@clinic.example", "mailto:me@localhost", "http://clinic.example"):
        with pytest.raises(ConfigError, match="VAPID_SUBJECT"):
            load_vapid(_vapid_app(tmp_path, VAPID_SUBJECT=subject, VAPID_PRIVATE_KEY="x"))
    with pytest.raises(ConfigError, match="not a valid"):
        load_vapid(
            _vapid_app(tmp_path, VAPID_SUBJECT="https://clinic.example", VAPID_PRIVATE_KEY="x")
        )
    assert not (tmp_path / "instance").exists()


def test_development_keeps_its_key_in_instance_and_tests_keep_theirs_in_memory(tmp_path):
    dev = _vapid_app(
        tmp_path, VAPID_SUBJECT="mailto:dev@clinic.example", VAPID_GENERATE_DEV_KEY=True
    )
    first = load_vapid(dev)
    assert (tmp_path / "instance" / "vapid_private.pem").is_file()
    assert private_key_b64u(load_vapid(dev)) == private_key_b64u(first)  # kept, not re-made
    configured = _vapid_app(
        tmp_path,
        VAPID_SUBJECT="mailto:ops@clinic.example",
        VAPID_PRIVATE_KEY=private_key_b64u(first),
    )
    assert private_key_b64u(load_vapid(configured)) == private_key_b64u(first)
    memory = tmp_path / "memory"
    test_app = Flask("vapid-memory", instance_path=str(memory))
    test_app.config.update(VAPID_SUBJECT="mailto:t@clinic.example", VAPID_GENERATE_DEV_KEY="memory")
    assert private_key_b64u(load_vapid(test_app)) == private_key_b64u(load_vapid(test_app))
    assert not memory.exists(), "the test key must not be written anywhere"


def test_moving_a_session_later_plans_its_sent_checklist_reminders_again(app, world, in_app):
    """The "24 hours before: no lotions, bring your stockings" reminders went out for the
    old date; the clinic moves the session a week on. They are due again for the new
    date, not left as sent (adversarial review 2026-12-07, S3)."""
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    (tid,) = _treatments(in_app, world.patient_b)  # booked for tomorrow 10:00
    _plan_all(in_app, world.patient_b, now)
    before = _rows(in_app, tid)
    checklist = sorted(k for k in before if k.startswith("checklist:"))
    assert checklist, before

    def sent_and_moved(by: timedelta):
        for row in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.treatment_id == tid)
        ):
            row.state, row.sent_at = OutboxState.SENT, row.due_at
        treatment = db.session.get(Treatment, tid)
        treatment.appointment_at += by
        db.session.commit()

    # Three hours later: the reminders already sent are close enough; never twice.
    in_app(lambda: sent_and_moved(timedelta(hours=3)))
    _plan_all(in_app, world.patient_b, now)
    assert all(_rows(in_app, tid)[k][0] == OutboxState.SENT for k in checklist)
    in_app(lambda: sent_and_moved(timedelta(days=7) - timedelta(hours=3)))
    _plan_all(in_app, world.patient_b, now)
    after = _rows(in_app, tid)
    for key in checklist:
        state, due = after[key]
        assert state == OutboxState.PENDING, key
        assert due == before[key][1] + timedelta(days=7), key
    # Planned again once: a second re-plan changes nothing.
    _plan_all(in_app, world.patient_b, now)
    assert _rows(in_app, tid) == after
