"""Email as a second outbox channel (issue 17 point 5): the day's reminder digest, quiet
hours, the choice between push and email, one-click unsubscribe, failures and retries,
and the exactly-once rules shared with push, against a real SMTP server on loopback
(tests/smtp_double.py) whose received messages are parsed.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app.adapters.mail import SmtpMailSender
from app.clock import advancing
from app.extensions import db
from app.models import Channel
from app.models import EmailPreference
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.models import Treatment
from app.models import User
from app.services.notify import delivery
from app.services.notify import dispatch
from app.services.notify import outbox
from app.services.notify.email_enqueue import enqueue_link_email
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.smtp_double import text_of as mail_text

AT = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)  # Mon 10:00 London
ALICE = "alice@patients.example"


class NoPush:
    """A push sender that must not be used: these patients have no device."""

    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def _patient(kinds, *, due=AT - timedelta(minutes=1), choice=None, device=None, name=None):
    clinic = make_clinic("north")
    patient = make_patient(clinic, ALICE, day=3, name=name or "Alice Marker-A")
    make_staff(clinic, "doc@north.example")
    if choice is not None:
        db.session.add(
            EmailPreference(
                patient_id=patient.id,
                reminders_by_email=choice == "email",
                unsubscribed_at=AT - timedelta(days=1) if choice == "off" else None,
            )
        )
    if device is not None:
        info = device.info()
        db.session.add(
            PushSubscription(
                patient_id=patient.id,
                endpoint=info["endpoint"],
                p256dh=info["keys"]["p256dh"],
                auth=info["keys"]["auth"],
            )
        )
    _add_rows(patient.id, kinds, due)
    db.session.commit()
    return patient.id


def _add_rows(patient_id, kinds, due, prefix="t"):
    tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == patient_id))
    for i, kind in enumerate(kinds):
        db.session.add(
            OutboxMessage(
                patient_id=patient_id,
                treatment_id=tid,
                key=f"{prefix}:{i}",
                kind=kind,
                link="/patient/today",
                due_at=due,
                available_at=due,
                state=OutboxState.PENDING,
            )
        )
    db.session.commit()


def _states(in_app):
    return in_app(
        lambda: {
            r.key: (r.channel.value, r.state.value)
            for r in db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
        }
    )


def _run(in_app, at, **kwargs):
    return in_app(dispatch.run_until_empty, kwargs.pop("sender", NoPush()), advancing(at), **kwargs)


# ------------------------------------------------------------------ the digest


def test_due_reminders_of_a_patient_without_a_device_become_one_generic_digest(
    app, in_app, client, smtp_server
):
    in_app(_patient, ["daily", "checklist", "milestone"])
    report = _run(in_app, AT)
    assert report.digested == 3 and report.sent == 1 and report.smtp_connections == 1
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == ALICE
    assert mail["From"] == "ScleroCare <noreply@clinic.example>"
    assert mail["Subject"] == "Your ScleroCare reminders for today"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = mail_text(mail)
    # Generic words only: the kinds' messages, no name, treatment or body part.
    assert "Your check-in and aftercare for today are ready." in body
    assert "You have something to do before your appointment." in body
    for detail in ("Alice", "Marker", "calf", "Polidocanol", "compression"):
        assert detail not in body
    states = _states(in_app)
    assert {states[f"t:{i}"] for i in range(3)} == {("push", "digested")}
    digests = {k: v for k, v in states.items() if k.startswith("digest:")}
    assert list(digests.values()) == [("email", "sent")]
    assert list(digests)[0].endswith(":2026-11-23")  # one per patient and local day
    # The link works when followed: to Today, after signing in.
    today = next(u for u in links_in(mail) if u.endswith("/patient/today"))
    assert today == "http://localhost/patient/today"
    login(client, ALICE)
    assert client.get(today.removeprefix("http://localhost")).status_code == 200


def test_at_most_one_digest_a_day_and_the_next_day_gets_its_own(app, in_app, smtp_server):
    pid = in_app(_patient, ["daily"])
    _run(in_app, AT)
    # Later the same day: another reminder falls due; it is not emailed again.
    in_app(_add_rows, pid, ["checklist", "comment"], AT + timedelta(hours=5), "later")
    report = _run(in_app, AT + timedelta(hours=5, minutes=1))
    assert report.digested == 2 and report.emails == 0
    assert len(smtp_server.messages) == 1
    # The next day: a new digest.
    in_app(_add_rows, pid, ["daily"], AT + timedelta(days=1), "next")
    _run(in_app, AT + timedelta(days=1, minutes=1))
    assert len(smtp_server.messages) == 2
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 2


def test_quiet_hours_hold_the_digest_until_they_end(app, in_app, smtp_server):
    night = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 22:30 London, quiet from 21:00
    in_app(_patient, ["comment"], due=night - timedelta(minutes=1))
    report = _run(in_app, night)
    assert report.later == 1 and report.digested == 0 and smtp_server.messages == []
    _run(in_app, night + timedelta(hours=2))  # 00:30: still quiet
    assert smtp_server.messages == []
    _run(in_app, datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC))  # 08:00: quiet hours over
    assert len(smtp_server.messages) == 1
    assert "You have a new message from your clinic." in mail_text(smtp_server.messages[0])


def test_a_device_with_push_gets_push_unless_the_patient_chose_email(
    app, in_app, smtp_server, push_service, sender
):
    in_app(_patient, ["daily"], device=push_service.new_subscription())
    report = _run(in_app, AT, sender=sender)
    assert report.sent == 1 and report.digested == 0 and smtp_server.messages == []
    # Choosing email: the next reminder comes by email instead of push.
    pid = in_app(lambda: db.session.scalar(sa.select(OutboxMessage.patient_id)))

    def choose_email():
        db.session.add(EmailPreference(patient_id=pid, reminders_by_email=True))
        db.session.commit()

    in_app(choose_email)
    in_app(_add_rows, pid, ["checklist"], AT + timedelta(hours=1), "later")
    before = push_service.per_row()
    report = _run(in_app, AT + timedelta(hours=1, minutes=1), sender=sender)
    assert report.digested == 1 and len(smtp_server.messages) == 1
    assert push_service.per_row() == before


# ------------------------------------------------------------------ unsubscribe


def test_one_click_unsubscribe_from_the_header_stops_reminder_emails(
    app, in_app, client, smtp_server
):
    pid = in_app(_patient, ["daily"])
    _run(in_app, AT)
    mail = smtp_server.messages[0]
    header = str(mail["List-Unsubscribe"]).strip()  # may be folded onto its own line
    assert header.startswith("<http://localhost/email/unsubscribe/") and header.endswith(">")
    url = header[1:-1].removeprefix("http://localhost")
    assert url in mail_text(mail)  # the same link is in the text
    # Opening the link (or a mail scanner fetching it) changes nothing: a button.
    page = client.get(url)
    assert page.status_code == 200 and "Stop reminder emails" in text_of(page)
    assert in_app(lambda: db.session.get(EmailPreference, pid)) is None
    # RFC 8058: the mail app POSTs this body, with no cookie and no CSRF token.
    done = client.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200 and "Reminder emails are off" in text_of(done)
    assert client.post(url).status_code == 200  # a second click is harmless
    # Later reminders: nowhere to go (no device, emails off).
    in_app(_add_rows, pid, ["checklist"], AT + timedelta(days=1), "next")
    report = _run(in_app, AT + timedelta(days=1, minutes=1))
    assert report.no_device == 1 and len(smtp_server.messages) == 1


def test_a_forged_or_altered_unsubscribe_link_is_refused(app, in_app, client, smtp_server):
    in_app(_patient, ["daily"])
    _run(in_app, AT)
    url = (
        str(smtp_server.messages[0]["List-Unsubscribe"])
        .strip()[1:-1]
        .removeprefix("http://localhost")
    )
    assert client.get(url[:-2] + "xx").status_code == 404
    assert client.post(url[:-2] + "xx").status_code == 404
    # Odd bytes and huge tokens: a client error, never a 500.
    assert 400 <= client.post("/email/unsubscribe/" + "\x00" * 3).status_code < 500
    assert client.get("/email/unsubscribe/" + "A" * 5000).status_code == 404
    assert client.post("/email/unsubscribe/%C3%A9%F0%9F%92%A5").status_code == 404


# ------------------------------------------------------------------ failures


def test_smtp_down_is_retried_then_shown_to_the_clinic_as_failed(
    app, in_app, client, smtp_server, clock
):
    pid = in_app(_patient, ["daily"])
    smtp_server.stop()
    report = _run(in_app, AT)
    assert report.digested == 1 and report.retried == 1 and report.sent == 0
    row = in_app(
        lambda: db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)
        )
    )
    assert row.state == OutboxState.PENDING and "ConnectionRefusedError" in row.last_error
    login(client, "doc@north.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert "will be tried again" in page and "ConnectionRefusedError" in page
    # Down for every retry: it gives up and the clinic sees a failure.
    at = AT
    for _ in range(delivery.MAX_ATTEMPTS):
        at += delivery.MAX_BACKOFF + timedelta(minutes=1)
        _run(in_app, at)
    row = in_app(lambda: db.session.get(OutboxMessage, row.id))
    assert row.state == OutboxState.FAILED and row.last_error.startswith("gave up:")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert "1 email could not be delivered" in page


def test_the_server_back_before_the_last_try_delivers_once(app, in_app, smtp_server):
    in_app(_patient, ["daily"])
    port = smtp_server.port
    smtp_server.stop()
    _run(in_app, AT)
    smtp_server.start()
    assert smtp_server.port == port
    _run(in_app, AT + timedelta(minutes=5))
    assert len(smtp_server.messages) == 1


def test_a_refused_address_fails_at_once_and_a_busy_server_is_retried(
    app, in_app, client, smtp_server
):
    pid = in_app(_patient, ["daily"])
    smtp_server.refuse.add(ALICE)
    report = _run(in_app, AT)
    assert report.failed == 1 and report.retried == 0
    row = in_app(
        lambda: db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)
        )
    )
    assert row.state == OutboxState.FAILED and "550" in row.last_error
    login(client, "doc@north.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert "1 email could not be delivered" in page and "550" in page
    # 451 after DATA: try later.
    smtp_server.refuse.clear()
    smtp_server.busy = True
    in_app(_add_rows, pid, ["daily"], AT + timedelta(days=1), "next")
    report = _run(in_app, AT + timedelta(days=1, minutes=1))
    assert report.retried == 1 and smtp_server.messages == []


# ------------------------------------------------------------------ account links


def _staff_link(n: int, now: datetime = AT) -> None:
    clinic = make_clinic("north")
    for i in range(n):
        user = make_staff(clinic, f"doc{i}@north.example")
        enqueue_link_email(user, "signin", f"http://localhost/invite/secret-token-{i}", now)
    db.session.commit()


def test_a_link_email_is_sent_at_once_and_its_link_leaves_the_database(app, in_app, smtp_server):
    in_app(_staff_link, 1)
    before = in_app(lambda: db.session.scalar(sa.select(OutboxMessage.secret)))
    assert before == "http://localhost/invite/secret-token-0"
    report = _run(in_app, AT)
    assert report.sent == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == "doc0@north.example" and mail["List-Unsubscribe"] is None
    assert "http://localhost/invite/secret-token-0" in links_in(mail)
    row = in_app(lambda: db.session.scalar(sa.select(OutboxMessage)))
    assert row.state == OutboxState.SENT and row.secret is None and row.patient_id is None


# ------------------------------------------------------------------ exactly once


class HookedMailer:
    """The real SMTP sender with a hook before each send (to stall or steal a claim)."""

    def __init__(self, before_send) -> None:  # noqa: ANN001
        self.real = SmtpMailSender()
        self.before_send = before_send

    @contextmanager
    def batch(self):  # noqa: ANN201
        with self.real.batch() as real:
            hooked = self

            class Batch:
                connections = 0

                def send(self, message):  # noqa: ANN001, ANN201
                    hooked.before_send(message)
                    result = real.send(message)
                    Batch.connections = real.connections
                    return result

            yield Batch()


def test_an_email_outcome_is_written_only_by_the_holder_of_the_current_claim(
    app, in_app, smtp_server
):
    in_app(_staff_link, 1)
    thief: list = []

    def lose_the_claim(message):  # noqa: ANN001
        with app.app_context():  # another dispatcher, two leases later
            thief.extend(outbox.claim(AT + timedelta(minutes=2), 10, timedelta(seconds=60), "b"))

    report = in_app(
        dispatch.dispatch_due, NoPush(), AT, renew=False, mailer=HookedMailer(lose_the_claim)
    )
    assert len(thief) == 1 and report.sent == 0 and report.lost == 1
    row = in_app(lambda: db.session.scalar(sa.select(OutboxMessage)))
    assert row.state == OutboxState.SENDING and row.claim_token == "b"


def test_an_email_lease_is_renewed_while_a_slow_server_answers(app, in_app, smtp_server):
    in_app(_staff_link, 4)
    clock = advancing(AT)
    stolen: list = []
    calls: list = []

    def slow(message):  # noqa: ANN001
        calls.append(1)
        time.sleep(0.6)
        if len(calls) == 3:  # ~1.2 s after the claim: its first lease has run out
            with app.app_context():
                stolen.extend(outbox.claim(clock(), 10, timedelta(seconds=60)))

    report = in_app(
        dispatch.dispatch_due,
        NoPush(),
        AT,
        lease=timedelta(seconds=0.9),
        clock=clock,
        mailer=HookedMailer(slow),
    )
    assert stolen == [] and report.sent == 4 and report.lost == 0
    assert sorted(m["To"] for m in smtp_server.messages) == [
        f"doc{i}@north.example" for i in range(4)
    ]


def test_two_dispatchers_send_each_email_once_over_one_connection_per_batch(
    app, in_app, smtp_server
):
    in_app(_staff_link, 60)
    reports = []

    def dispatcher():
        with app.app_context():
            reports.append(dispatch.run_until_empty(NoPush(), advancing(AT), batch=10))
            db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in reports) == 60 and sum(r.lost for r in reports) == 0
    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == sorted(f"doc{i}@north.example" for i in range(60))
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 60
    # One connection per batch that had mail to send, never one per message.
    assert smtp_server.connections == sum(r.smtp_connections for r in reports) <= 8
    assert in_app(outbox.counts_by_state) == {"sent": 60}


def test_an_inactive_account_gets_no_email(app, in_app, smtp_server):
    in_app(_staff_link, 1)

    def deactivate():
        db.session.execute(sa.update(User).values(is_active=False))
        db.session.commit()

    in_app(deactivate)
    report = _run(in_app, AT)
    assert report.failed == 1 and smtp_server.messages == []
