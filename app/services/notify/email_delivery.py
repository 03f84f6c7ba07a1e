"""Sending claimed email rows over one SMTP connection and recording each outcome.

The same exactly-once rules as push (``dispatch`` explains them): the rows are claimed
with a fencing token and a lease; each outcome is one UPDATE ``WHERE id AND
claim_token``, committed (autocommit connection) as soon as the SMTP server answered;
the lease of the rows still waiting is renewed every third of it. Rows go one after the
other on one connection per batch (``MailSender.batch``), so a crash can repeat at most
the one email whose "250 OK" had arrived but whose outcome was not yet written: a window
of one UPDATE, a few milliseconds. Its Message-ID is the same the second time, so most
mail apps show it once. An email whose "250 OK" was lost with the connection is retried:
SMTP cannot tell whether such a message was taken (RFC 1047), so it may arrive twice.

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

from app.adapters.mail import MailResult
from app.adapters.mail import MailSender
from app.extensions import db
from app.models import OutboxMessage
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
from app.services.notify.outbox import ClaimedMessage
from app.services.notify.report import Clock
from app.services.notify.report import DispatchReport


def addresses_of(rows: list[ClaimedMessage]) -> dict[int, str]:
    """Each row's address: the account's email (a clinician's, or the patient's), in two
    queries. Inactive accounts get nothing."""
    users = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
    patients = {r.patient_id for r in rows if r.recipient_user_id is None and r.patient_id}
    by_user = dict(
        db.session.execute(
            sa.select(User.id, User.email).where(User.id.in_(sorted(users)), User.is_active)
        ).all()
    )
    by_patient = dict(
        db.session.execute(
            sa.select(Patient.id, User.email)
            .join(User, User.id == Patient.user_id)
            .where(Patient.id.in_(sorted(patients)), User.is_active)
        ).all()
    )
    found: dict[int, str] = {}
    for row in rows:
        address = (
            by_user.get(row.recipient_user_id)
            if row.recipient_user_id is not None
            else by_patient.get(row.patient_id)  # type: ignore[arg-type]
        )
        if address:
            found[row.id] = address
    return found


def send_emails(
    mailer: MailSender,
    rows: list[ClaimedMessage],
    token: str,
    clock: Clock,
    lease: timedelta | None,
    report: DispatchReport,
) -> None:
    """Send claimed email rows on one SMTP connection, recording each as it returns."""
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
            to = addresses.get(row.id)
            if to is None:
                _count(report, "failed", _close(conn, row, token, clock(), "no email address"))
                continue
            result = batch.send(build(row, to, unsubscribe.get(row.patient_id)))
            report.emails += 1
            key = result.outcome
            report.statuses[f"email {key}"] = report.statuses.get(f"email {key}", 0) + 1
            record(conn, row, result, clock(), token, report)
        report.smtp_connections += getattr(batch, "connections", 0)


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


def drop_secrets(ids: list[int], token: str) -> None:
    """Wipe the links of dropped account emails (fenced; no commit)."""
    if ids:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(sorted(ids)), OutboxMessage.claim_token == token)
            .values(secret=None)
            .execution_options(synchronize_session=False)
        )
