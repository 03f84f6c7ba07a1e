"""The notification dispatcher: claim due outbox rows, screen them, hand them to sending.

This module is the loop: ``dispatch_due`` (one batch), ``run_until_empty`` (until nothing
is due), the lease and the send-time lateness rules. Sending one row to its devices and
recording the outcome is ``delivery``; who a row goes to is ``recipients``; what a pass
did is ``report``. Their public names are re-exported here (the CLI, tests and the bench
import them from this module).

A patient's reminder goes into the day's email digest when the patient chose email, or
has no device with push on (``email_enqueue.fold_into_digests``); email rows (digests,
account links) are sent by ``email_delivery`` on one SMTP connection per batch, with the
same claim, fencing and lease rules as push. A row with nowhere to go (no device, emails
turned off; a clinician without a device) is marked ``no_device``: reminders are a
convenience, and the same information is on the patient's pages every day.

Exactly once per device (issue 15 point 1)
------------------------------------------
* **Fencing.** Each claim writes a fresh token into its rows (``outbox.claim``). Every
  later write for those rows (a lease renewal, an outcome, a drop) is an UPDATE ``WHERE
  id = ... AND claim_token = :token``, so a dispatcher that lost its claim cannot undo
  or repeat another's work.
* **Leases are renewed while sends are in flight**, rather than made longer than the
  worst case. The worst case of one batch is batch x devices x timeout / concurrency
  (200 x 10 x 10 s / 8 = 2,500 s): a lease that long would leave a dead dispatcher's
  rows waiting 40 minutes. Instead the lease is short (``LEASE``, 60 s) and the thread
  that records outcomes renews every row the claim still holds each ``LEASE / 3``; a
  dispatcher that dies stops renewing and its rows come back within one lease. The
  renewal returns the rows still held: any other row is left alone, never sent.
* **Time is read for each batch** (``run_until_empty`` takes a clock), and again for
  each renewal and outcome, so a long backlog never hands out leases already expired.
* **Each outcome is committed as soon as its row's sends return**: one UPDATE on a
  connection in autocommit (``delivery.recording_connection``). At most ``workers`` rows
  (default 8, ``IN_FLIGHT``) are being sent or waiting to be recorded at any moment;
  a kill -9 of a worker can therefore re-send at most that many rows (to each of
  their devices; a person has one or two). Rows claimed but not yet started are not
  re-sent by anyone: they were never sent, and the next claim after the lease sends
  them once. On PostgreSQL the outcome commits do not wait for the disk: a crash of the
  database server itself (not of a worker) may lose up to ~0.6 s of outcomes, whose
  rows are then sent again.
* A kill -9 also loses the batch's device bookkeeping (last success/failure, gone
  devices), which is written once per batch: diagnostics only, never delivery state.

Lateness (issue 15 point 2)
---------------------------
Before sending, each claimed row is checked against its validity window and the
patient's quiet hours again (``app.domain.reminders.decide_at_send``): too late is
``dropped`` (with the reason, counted for the clinic), inside quiet hours goes back to
``pending`` until they end. Of several due rows of one kind for one person only the
newest is sent (``newest_per_kind``); the older ones are dropped as replaced, and
those due at the very same instant as the one sent are marked ``merged`` (one
notification covers them; they are not counted as dropped for the clinic). The push
``Topic`` and the notification ``tag`` name the kind, so a newer reminder replaces an
older one still waiting at the push service or shown on the phone instead of stacking.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app import clock as clock_module
from app.adapters import mail
from app.adapters.mail import MailSender
from app.adapters.push import PushSender
from app.domain.reminders import decide_at_send
from app.domain.reminders import newest_per_kind
from app.extensions import db
from app.models import Channel
from app.models import OutboxMessage
from app.models import OutboxState
from app.models.notification import READY_PREDICATE
from app.services.notify import outbox
from app.services.notify.delivery import BASE_BACKOFF as BASE_BACKOFF
from app.services.notify.delivery import MAX_ATTEMPTS as MAX_ATTEMPTS
from app.services.notify.delivery import MAX_BACKOFF as MAX_BACKOFF
from app.services.notify.delivery import TTL_SECONDS as TTL_SECONDS
from app.services.notify.delivery import backoff as backoff
from app.services.notify.delivery import fenced
from app.services.notify.delivery import payload_for as payload_for
from app.services.notify.delivery import send_and_record
from app.services.notify.delivery import topic_for as topic_for
from app.services.notify.email_delivery import send_emails
from app.services.notify.email_enqueue import fold_into_digests
from app.services.notify.languages import locales_of
from app.services.notify.outbox import ClaimedMessage
from app.services.notify.recipients import Device as Device
from app.services.notify.recipients import PatientQuiet
from app.services.notify.recipients import recipient_of
from app.services.notify.recipients import recipients_of
from app.services.notify.report import Clock as Clock
from app.services.notify.report import DispatchReport as DispatchReport

LEASE = timedelta(seconds=60)
IN_FLIGHT = 8  # rows being sent at once per dispatcher: the most a kill -9 can repeat


def dispatch_due(
    sender: PushSender,
    now: datetime,
    *,
    batch: int = 200,
    lease: timedelta = LEASE,
    workers: int = IN_FLIGHT,
    clock: Clock | None = None,
    renew: bool = True,
    mailer: MailSender | None = None,
) -> DispatchReport:
    """Claim one batch of due rows at ``now``, send them, and record each outcome.

    Up to ``workers`` rows are in flight at once: while one waits for a push service,
    another encrypts. (bench/push_fanout.py: with a push service answering after 20 ms,
    8 in flight send about 7 times as fast as one at a time.) ``clock`` gives the time
    for lease renewals and outcomes (by default ``now`` moving on with real time).
    ``renew=False`` turns lease renewal off: only for the test that shows what it
    prevents. ``mailer`` sends the email rows (by default the app's SMTP sender).
    """
    clock = clock or clock_module.advancing(now)
    token = outbox.new_token()
    rows = outbox.claim(now, batch, lease, token)
    report = DispatchReport(claimed=len(rows))
    if not rows:
        return report
    emails = [r for r in rows if r.channel == Channel.EMAIL]
    pushes = [r for r in rows if r.channel != Channel.EMAIL]
    devices, quiet = recipients_of(rows)
    locales = locales_of(rows, quiet)  # each row in its reader's language
    emails = _screen(emails, now, quiet, token, report)
    pushes = _screen(pushes, now, quiet, token, report)
    todo: list[tuple[ClaimedMessage, list[Device]]] = []
    no_device: list[int] = []
    to_digest: list[ClaimedMessage] = []
    for row in pushes:
        found = devices.get(recipient_of(row), [])
        where = quiet.get(row.patient_id) if _is_patients(row) else None  # type: ignore[arg-type]
        choice = where.email if where else None
        if choice == "email" or (choice == "auto" and not found):
            to_digest.append(row)
        elif found:
            todo.append((row, found))
        else:
            no_device.append(row.id)
    if no_device:
        report.no_device += fenced(no_device, token, state=OutboxState.NO_DEVICE)
    if to_digest:
        zones = {pid: q.tz for pid, q in quiet.items()}
        report.digested += fold_into_digests(to_digest, zones, token, now)
    # End the read transaction before the network: no snapshot or idle-in-transaction
    # connection held while push services answer (up to the timeout).
    db.session.commit()
    send_and_record(sender, todo, token, clock, lease if renew else None, workers, report, locales)
    if emails:
        send_emails(
            mailer or mail.default_sender(),
            emails,
            token,
            clock,
            lease if renew else None,
            report,
            locales,
        )
    return report


def _is_patients(row: ClaimedMessage) -> bool:
    """A patient's own reminder (not an alert to a clinician about them)."""
    return row.recipient_user_id is None and row.patient_id is not None


def _screen(
    rows: list[ClaimedMessage],
    now: datetime,
    quiet: dict[int, PatientQuiet],
    token: str,
    report: DispatchReport,
) -> list[ClaimedMessage]:
    """Apply the lateness rules at send time; return the rows to send now.

    Too late, replaced by a newer one of its kind, or to a patient discharged since the
    claim: dropped, with the reason. Inside the patient's quiet hours: back to pending
    until they end (not an attempt).
    """
    _, replaced, together = newest_per_kind(_due_of_same_kind(rows, now))
    drops: dict[str, list[int]] = defaultdict(list)
    later: dict[datetime, list[int]] = defaultdict(list)
    send: list[ClaimedMessage] = []
    for row in rows:
        if row.id in replaced:
            drops["replaced by a newer reminder of the same kind"].append(row.id)
            continue
        where = quiet.get(row.patient_id) if row.recipient_user_id is None else None
        if where is not None and where.discharged:
            # Discharged after this row was claimed: the discharge cancelled it, but the
            # claim still holds it in memory. Not sent (the fenced write is a no-op for
            # a cancelled row, and drops any row planned by mistake after discharge).
            drops["patient discharged"].append(row.id)
            continue
        decision = decide_at_send(
            kind=row.kind,
            due=row.due_at,
            expires=row.expires_at,
            now=now,
            tz=where.tz if where else None,
            quiet=where.quiet if where else None,
            time_critical=row.time_critical,
        )
        if decision.action == "drop":
            drops[decision.reason].append(row.id)
        elif decision.action == "later":
            later[decision.at].append(row.id)  # type: ignore[index] - set for "later"
        else:
            send.append(row)
    send, merged = _fold_ties(send, together)
    if merged:
        # secret: like a drop, an account email's link goes with the row (email_enqueue).
        report.merged += fenced(
            merged,
            token,
            state=OutboxState.MERGED,
            last_error="sent as one notification with another due at the same time",
            secret=None,
        )
    for reason, ids in drops.items():
        # secret: an account email's link is wiped with the drop (email_enqueue).
        report.dropped += fenced(
            ids, token, state=OutboxState.DROPPED, last_error=reason, secret=None
        )
    for at, ids in later.items():
        report.later += fenced(
            ids,
            token,
            state=OutboxState.PENDING,
            available_at=at,
            attempts=OutboxMessage.attempts - 1,
        )
    return send


def _fold_ties(
    send: list[ClaimedMessage], together: dict[int, int]
) -> tuple[list[ClaimedMessage], list[int]]:
    """Rows due at the same instant as another of their kind: merged into that one only
    when it is being sent now in this batch, and this one could be sent now too.
    Otherwise each row keeps its own decision (sent, later or dropped), so a tie whose
    partner is held elsewhere, waiting for quiet hours to end or too late is never
    marked "sent as one notification" without a notification."""
    sending = {row.id for row in send}
    merged = [row.id for row in send if together.get(row.id) in sending]
    if not merged:
        return send, []
    folded = set(merged)
    return [row for row in send if row.id not in folded], merged


def _due_of_same_kind(
    rows: list[ClaimedMessage], now: datetime
) -> list[tuple[int, tuple[str, int], str, datetime]]:
    """The claimed rows and every other open, due row of the same patients, so a newer
    reminder held by another claim (or waiting) still replaces an older one here."""
    if not rows:
        return []
    patients = {r.patient_id for r in rows if r.patient_id is not None}
    found = {(r.id, recipient_of(r), r.kind, r.due_at) for r in rows}
    query = sa.select(
        OutboxMessage.id,
        OutboxMessage.patient_id,
        OutboxMessage.recipient_user_id,
        OutboxMessage.kind,
        OutboxMessage.due_at,
    ).where(
        READY_PREDICATE,
        OutboxMessage.patient_id.in_(sorted(patients)),
        OutboxMessage.due_at <= now,
    )
    for row_id, patient_id, user_id, kind, due in db.session.execute(query):
        recipient = ("user", user_id) if user_id is not None else ("patient", patient_id)
        found.add((row_id, recipient, kind, due))
    return sorted(found)


def run_until_empty(sender: PushSender, now: datetime | Clock, **kwargs: object) -> DispatchReport:
    """Dispatch batches until nothing is due (``flask notifications send-due``).

    ``now`` is a clock, read afresh for every batch; a fixed instant means that instant
    moving on with real time (``app.clock.advancing``).
    """
    clock = clock_module.advancing(now) if isinstance(now, datetime) else now
    total = DispatchReport()
    while True:
        report = dispatch_due(sender, clock(), clock=clock, **kwargs)  # type: ignore[arg-type]
        total.add(report)
        if report.claimed == 0:
            return total
