"""Sending claimed email rows over one SMTP connection and recording each outcome.

The same exactly-once rules as push (``dispatch`` explains them): the rows are claimed
with a fencing token and a lease; each outcome is one UPDATE ``WHERE id AND
claim_token``, committed (autocommit connection) as soon as the SMTP server answered;
the lease of the rows still waiting is renewed every third of it (between sends: one
send is bounded by ``MAIL_TIMEOUT`` per SMTP step, well inside the 60 s lease). Rows go
one after the other on one connection per batch (``MailSender.batch``), each outcome
written before the next email starts. So a kill -9 can repeat at most one email, and only
if the server had said "250 OK" in the few milliseconds before its outcome was written.
A repeated email has the same Message-ID, so most mail apps show it once. (Sending on a
second thread while this one records was measured: no faster on loopback, where the
GIL hand-offs cost what the overlap saves, and it would double that window.)
An email whose "250 OK" was lost with the connection is retried: SMTP cannot tell
whether such a message was taken (RFC 1047), so it may arrive twice. Rows claimed but
not yet handed over are never sent by a dead dispatcher: the next claim sends them.

What the server's answer means:

* 2xx: sent. The link of an account email is wiped from the row in the same UPDATE.
* 5xx (refused recipient, sender or message): failed at once, shown to the clinic.
* 4xx, connection refused, time-out, dropped connection: retried with the push back-off
  (30 s doubling, at most 2 h) up to ``MAX_ATTEMPTS``, then failed ("gave up: ...").

A bounce that arrives later as a message to the sender's mailbox is not read here.
"""

from __future__ import annotations

import time
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app.adapters.mail import Email
from app.adapters.mail import MailBatch
from app.adapters.mail import MailResult
from app.adapters.mail import MailSender
from app.extensions import db
from app.models import Clinic
from app.models import OutboxState
from app.models import Patient
from app.models import User
from app.services.notify import outbox
from app.services.notify.delivery import MAX_ATTEMPTS
from app.services.notify.delivery import backoff
from app.services.notify.delivery import fenced
from app.services.notify.delivery import recording_connection
from app.services.notify.email_content import build
from app.services.notify.email_prefs import unsubscribe_url
from app.services.notify.languages import written_in
from app.services.notify.outbox import ClaimedMessage
from app.services.notify.report import Clock
from app.services.notify.report import DispatchReport


def addresses_of(rows: list[ClaimedMessage]) -> dict[int, tuple[str, str]]:
    """Each row's address and its clinic's reply-to address ("" when the clinic has
    none): the account's email (a clinician's, or the patient's), in two queries.
    Inactive accounts get nothing."""
    users = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
    patients = {r.patient_id for r in rows if r.recipient_user_id is None and r.patient_id}
    by_user = {
        uid: (address, reply_to)
        for uid, address, reply_to in db.session.execute(
            sa.select(User.id, User.email, Clinic.reply_to_email)
            .join(Clinic, Clinic.id == User.clinic_id)
            .where(User.id.in_(sorted(users)), User.is_active)
        )
    }
    by_patient = {
        pid: (address, reply_to)
        for pid, address, reply_to in db.session.execute(
            sa.select(Patient.id, User.email, Clinic.reply_to_email)
            .join(User, User.id == Patient.user_id)
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .where(Patient.id.in_(sorted(patients)), User.is_active)
        )
    }
    found: dict[int, tuple[str, str]] = {}
    for row in rows:
        address = (
            by_user.get(row.recipient_user_id)
            if row.recipient_user_id is not None
            else by_patient.get(row.patient_id)  # type: ignore[arg-type]
        )
        if address and address[0]:
            found[row.id] = (address[0], address[1] or "")
    return found


def send_emails(
    mailer: MailSender,
    rows: list[ClaimedMessage],
    token: str,
    clock: Clock,
    lease: timedelta | None,
    report: DispatchReport,
    locales: dict[int, str] | None = None,
) -> None:
    """Send claimed email rows on one SMTP connection, recording each as it returns;
    each is written in its reader's language (``locales`` by row id, languages.py)."""
    if not rows:
        return
    addresses = addresses_of(rows)
    unsubscribe = {
        r.patient_id: unsubscribe_url(r.patient_id)
        for r in rows
        if r.kind == "digest" and r.patient_id is not None
    }
    db.session.commit()  # no read transaction held while the SMTP server answers
    held = {r.id for r in rows}
    renew_every = lease.total_seconds() / 3 if lease is not None else float("inf")
    renewed = time.monotonic()
    with recording_connection() as conn, mailer.batch() as batch:
        for row in rows:
            if lease is not None and time.monotonic() - renewed >= renew_every:
                still = outbox.renew(held, token, clock() + lease, conn)
                renewed = time.monotonic()
                report.lost += len(held - still)
                held = still
            if row.id not in held:
                continue
            held.discard(row.id)
            found = addresses.get(row.id)
            if found is None:
                _count(report, "failed", _close(conn, row, token, clock(), "no email address"))
                continue
            to, reply_to = found
            locale = (locales or {}).get(row.id)
            email = written_in(locale, build, row, to, unsubscribe.get(row.patient_id), reply_to)
            result = _send(batch, email)
            report.emails += 1
            name = f"email {result.outcome}"
            report.statuses[name] = report.statuses.get(name, 0) + 1
            # One UPDATE in autocommit: committed the moment it returns.
            record(conn, row, result, clock(), token, report)
        report.smtp_connections += getattr(batch, "connections", 0)


def _send(batch: MailBatch, message: Email) -> MailResult:
    try:
        return batch.send(message)
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
        return MailResult("retry", f"{type(exc).__name__}: {exc}"[:200])


def record(
    conn: sa.Connection,
    row: ClaimedMessage,
    result: MailResult,
    now: datetime,
    token: str,
    report: DispatchReport,
) -> None:
    """Write the row's outcome from the server's answer (fenced, autocommit)."""
    if result.outcome == "sent":
        _count(
            report,
            "sent",
            fenced(
                [row.id],
                token,
                conn,
                state=OutboxState.SENT,
                sent_at=now,
                last_error="",
                secret=None,
            ),
        )
    elif result.outcome == "retry" and row.attempts < MAX_ATTEMPTS:
        _count(
            report,
            "retried",
            fenced(
                [row.id],
                token,
                conn,
                state=OutboxState.PENDING,
                available_at=now + backoff(row.attempts, None),
                last_error=result.error[:200],
            ),
        )
    else:
        prefix = "gave up: " if result.outcome == "retry" else "refused: "
        _count(report, "failed", _close(conn, row, token, now, prefix + result.error))


def _close(conn: sa.Connection, row: ClaimedMessage, token: str, now: datetime, error: str) -> int:
    """Fail the row for good (available_at becomes the time it failed, as for push)."""
    return fenced(
        [row.id],
        token,
        conn,
        state=OutboxState.FAILED,
        available_at=now,
        last_error=error[:200],
        secret=None,
    )


def _count(report: DispatchReport, name: str, done: int) -> None:
    setattr(report, name, getattr(report, name) + done)
    report.lost += 1 - done
