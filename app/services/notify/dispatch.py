"""The notification dispatcher: claim due outbox rows, send, record what happened.

What each push-service answer means (RFC 8030; security checklist F10):

* 201 (any 2xx): delivered; the row is sent.
* 404 / 410: that subscription is gone; it is deleted, never retried.
* 429: too many requests; retried no sooner than Retry-After.
* 5xx, timeouts, connection errors: retried with exponential back-off, then the row
  fails visibly (the clinician sees it).
* 400 / 403 / 413 and other 4xx: a problem with the message or our keys; not retried.

A row with several devices is sent when at least one device got it. A row whose
patient has no device is marked ``no_device``: reminders are a convenience, and the same
information is on the patient's pages every day.

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
  connection in autocommit (``_recording_connection``). At most ``workers`` rows
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
newest is sent (``newest_per_kind``); the others are dropped as replaced. The push
``Topic`` and the notification ``tag`` name the kind, so a newer reminder replaces an
older one still waiting at the push service or shown on the phone instead of stacking.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.adapters.push import PushSender
from app.adapters.push import SendResult
from app.adapters.push import SubscriptionInfo
from app.domain.reminders import TITLE
from app.domain.reminders import QuietHours
from app.domain.reminders import decide_at_send
from app.domain.reminders import message_for
from app.domain.reminders import newest_per_kind
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.models.notification import READY_PREDICATE
from app.services.notify import outbox
from app.services.notify.outbox import ClaimedMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=2)
LEASE = timedelta(seconds=60)
IN_FLIGHT = 8  # rows being sent at once per dispatcher: the most a kill -9 can repeat
Clock = Callable[[], datetime]
TTL_SECONDS = {
    "daily": 12 * 3600,
    "checklist": 24 * 3600,
    "milestone": 24 * 3600,
    "next-session": 3 * 86400,
}


@dataclass
class DispatchReport:
    """What one pass did, for logs, the CLI and tests."""

    claimed: int = 0
    sent: int = 0
    no_device: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    later: int = 0
    lost: int = 0
    deliveries: int = 0
    gone_subscriptions: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, other: DispatchReport) -> None:
        for name in (
            "claimed",
            "sent",
            "no_device",
            "retried",
            "failed",
            "dropped",
            "later",
            "lost",
            "deliveries",
            "gone_subscriptions",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + n


def payload_for(row: ClaimedMessage) -> bytes:
    """The notification as the service worker gets it: generic words and a link only.

    No name, treatment, body part or date: lock screens are public (checklist F11).
    ``tag`` (on the phone) and the Topic header (at the push service) name the kind, so
    a newer reminder of a kind replaces an older one instead of stacking. ``id`` is the
    opaque outbox row id (no health detail), so a device can tell a repeat.
    """
    body = {
        "title": TITLE,
        "body": message_for(row.kind),
        "tag": f"sc-{row.kind}",
        "data": {"url": row.link, "id": row.id},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential back-off from 30 s, capped at 2 h, never sooner than Retry-After."""
    wait = min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def topic_for(kind: str) -> str:
    """The push ``Topic`` of a kind: URL-safe base64 characters, at most 32 (RFC 8030 5.4)."""
    return f"sc-{kind}"[:32]


@dataclass(frozen=True, slots=True)
class Device:
    """One stored push subscription, as sending needs it."""

    id: int
    info: SubscriptionInfo


@dataclass(frozen=True, slots=True)
class _Quiet:
    """A patient's zone and quiet hours, for the send-time check."""

    tz: ZoneInfo
    quiet: QuietHours


def advancing_clock(start: datetime) -> Clock:
    """A clock that starts at ``start`` and then moves with real time (``--now`` runs
    and tests: the pretended instant, yet leases and outcomes still see time pass)."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def dispatch_due(
    sender: PushSender,
    now: datetime,
    *,
    batch: int = 200,
    lease: timedelta = LEASE,
    workers: int = IN_FLIGHT,
    clock: Clock | None = None,
    renew: bool = True,
) -> DispatchReport:
    """Claim one batch of due rows at ``now``, send them, and record each outcome.

    Up to ``workers`` rows are in flight at once: while one waits for a push service,
    another encrypts. (bench/push_fanout.py: with a push service answering after 20 ms,
    8 in flight send about 7 times as fast as one at a time.) ``clock`` gives the time
    for lease renewals and outcomes (by default ``now`` moving on with real time).
    ``renew=False`` turns lease renewal off: only for the test that shows what it
    prevents.
    """
    clock = clock or advancing_clock(now)
    token = outbox.new_token()
    rows = outbox.claim(now, batch, lease, token)
    report = DispatchReport(claimed=len(rows))
    if not rows:
        return report
    devices, quiet = _recipients_of(rows)
    rows = _screen(rows, now, quiet, token, report)
    todo: list[tuple[ClaimedMessage, list[Device]]] = []
    no_device: list[int] = []
    for row in rows:
        found = devices.get(_recipient(row), [])
        if found:
            todo.append((row, found))
        else:
            no_device.append(row.id)
    if no_device:
        report.no_device += _fenced(no_device, token, state=OutboxState.NO_DEVICE)
    # End the read transaction before the network: no snapshot or idle-in-transaction
    # connection held while push services answer (up to the timeout).
    db.session.commit()
    _send_and_record(sender, todo, token, clock, lease if renew else None, workers, report)
    return report


def _screen(
    rows: list[ClaimedMessage],
    now: datetime,
    quiet: dict[int, _Quiet],
    token: str,
    report: DispatchReport,
) -> list[ClaimedMessage]:
    """Apply the lateness rules at send time; return the rows to send now.

    Too late or replaced by a newer one of its kind: dropped, with the reason. Inside
    the patient's quiet hours: back to pending until they end (not an attempt).
    """
    keep, replaced = newest_per_kind(_due_of_same_kind(rows, now))
    drops: dict[str, list[int]] = defaultdict(list)
    later: dict[datetime, list[int]] = defaultdict(list)
    send: list[ClaimedMessage] = []
    for row in rows:
        if row.id in replaced:
            drops["replaced by a newer reminder of the same kind"].append(row.id)
            continue
        where = quiet.get(row.patient_id) if row.recipient_user_id is None else None
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
    for reason, ids in drops.items():
        report.dropped += _fenced(ids, token, state=OutboxState.DROPPED, last_error=reason)
    for at, ids in later.items():
        report.later += _fenced(
            ids,
            token,
            state=OutboxState.PENDING,
            available_at=at,
            attempts=OutboxMessage.attempts - 1,
        )
    return send


def _due_of_same_kind(
    rows: list[ClaimedMessage], now: datetime
) -> list[tuple[int, tuple[str, int], str, datetime]]:
    """The claimed rows and every other open, due row of the same patients, so a newer
    reminder held by another claim (or waiting) still replaces an older one here."""
    patients = {r.patient_id for r in rows}
    found = {(r.id, _recipient(r), r.kind, r.due_at) for r in rows}
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


def _fenced(ids: list[int], token: str, conn: sa.Connection | None = None, **values: object) -> int:
    """Write ``values`` to the rows of ``ids`` this claim still holds; how many it did.

    Through ``conn`` (the recording connection) when given, else the session."""
    result = (conn or db.session).execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(sorted(ids)),
            OutboxMessage.claim_token == token,
            OutboxMessage.state == OutboxState.SENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _recipient(row: ClaimedMessage) -> tuple[str, int]:
    """A clinic alert goes to a clinician's devices; everything else to the patient's."""
    if row.recipient_user_id is not None:
        return ("user", row.recipient_user_id)
    return ("patient", row.patient_id)


def _recipients_of(
    rows: list[ClaimedMessage],
) -> tuple[dict[tuple[str, int], list[Device]], dict[int, _Quiet]]:
    """The devices of every recipient in the batch (one query, columns not objects) and
    the patients' zones and quiet hours (one more)."""
    patients = {r.patient_id for r in rows if r.recipient_user_id is None}
    users = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
    found: dict[tuple[str, int], list[Device]] = defaultdict(list)
    query = sa.select(
        PushSubscription.id,
        PushSubscription.patient_id,
        PushSubscription.user_id,
        PushSubscription.endpoint,
        PushSubscription.p256dh,
        PushSubscription.auth,
    ).where(sa.or_(PushSubscription.patient_id.in_(patients), PushSubscription.user_id.in_(users)))
    for sub_id, patient_id, user_id, endpoint, p256dh, auth in db.session.execute(query):
        owner = ("user", user_id) if user_id is not None else ("patient", patient_id)
        found[owner].append(Device(sub_id, SubscriptionInfo(endpoint, p256dh, auth)))
    quiet: dict[int, _Quiet] = {}
    if patients:
        zones = db.session.execute(
            sa.select(Patient.id, Patient.timezone, Patient.quiet_start, Patient.quiet_end).where(
                Patient.id.in_(sorted(patients))
            )
        )
        for patient_id, zone, start, end in zones:
            quiet[patient_id] = _Quiet(ZoneInfo(zone), QuietHours(start, end))
    return found, quiet


# ------------------------------------------------------------------ sending


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size, so threads are not started for every batch."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")
    return pool


def _send_and_record(
    sender: PushSender,
    todo: list[tuple[ClaimedMessage, list[Device]]],
    token: str,
    clock: Clock,
    lease: timedelta | None,
    workers: int,
    report: DispatchReport,
) -> None:
    """Send rows, at most ``workers`` at once; record and commit each as it returns.

    This thread owns the database session: it starts sends on the pool, writes each
    outcome as soon as the row's sends are back, and renews the lease of every row the
    claim still holds each ``lease / 3``. A row counts as in flight from the moment its
    send starts until its outcome is committed, so a crash repeats at most ``workers``.
    """
    queue = deque(todo)
    held = {row.id for row, _ in todo}
    in_flight: dict[Future[list[tuple[Device, SendResult]]], ClaimedMessage] = {}
    renew_every = lease.total_seconds() / 3 if lease is not None else 3600.0
    renewed = time.monotonic()
    pool = _pool(workers)
    heard = _Heard()
    with _recording_connection() as conn:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                row, devices = queue.popleft()
                in_flight[pool.submit(_send_row, sender, row, devices)] = row
            wait_for = max(0.0, renew_every - (time.monotonic() - renewed))
            done, _ = wait(in_flight, timeout=wait_for, return_when=FIRST_COMPLETED)
            for future in done:
                row = in_flight.pop(future)
                # One statement in autocommit: committed the moment it returns.
                _record(conn, row, future.result(), clock(), token, report, heard)
                held.discard(row.id)
            if lease is not None and held and time.monotonic() - renewed >= renew_every:
                still = outbox.renew(held, token, clock() + lease, conn)
                renewed = time.monotonic()
                if still != held:
                    # Cancelled meanwhile, or (after a stall past the lease) taken by
                    # another claim: not ours to send. Sends already started finish, and
                    # their outcome write is fenced.
                    report.lost += len(held - still)
                    held = still
                    queue = deque((row, d) for row, d in queue if row.id in held)
        report.gone_subscriptions += heard.apply(conn, clock())


@contextmanager
def _recording_connection() -> Iterator[sa.Connection]:
    """A connection of its own for outcomes and renewals, in autocommit: each outcome is
    one UPDATE, committed as it returns, with no pool check-out or BEGIN per row.

    On PostgreSQL its commits do not wait for the disk (``synchronous_commit = off``):
    an outcome is visible to every other dispatcher at once and survives a kill -9 of
    this worker (the server has it); only a crash of the database server itself can lose
    the last fraction of a second of outcomes (at most 3 x wal_writer_delay, 0.6 s by
    default), whose rows are then sent again. Waiting for the disk cost about 6 ms per
    row on the project's machine, more than the send itself.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("SET synchronous_commit = off")
        try:
            yield conn
        finally:
            if postgres and not conn.invalidated:
                conn.exec_driver_sql("RESET synchronous_commit")


def _send_row(
    sender: PushSender, row: ClaimedMessage, devices: list[Device]
) -> list[tuple[Device, SendResult]]:
    """Send one row to each of its devices (a person has a few at most)."""
    return [(device, _send_one(sender, row, device)) for device in devices]


def _send_one(sender: PushSender, row: ClaimedMessage, device: Device) -> SendResult:
    try:
        return sender.send(
            device.info,
            payload_for(row),
            ttl=TTL_SECONDS.get(row.kind, 86400),
            urgency="high" if row.time_critical else "normal",
            topic=topic_for(row.kind),
        )
    except Exception as exc:  # noqa: BLE001 - one bad device must not stop the batch
        log.exception("push send failed")
        return SendResult(None, error=type(exc).__name__)


# ------------------------------------------------------------------ recording


def _record(
    conn: sa.Connection,
    row: ClaimedMessage,
    outcomes: list[tuple[Device, SendResult]],
    now: datetime,
    token: str,
    report: DispatchReport,
    heard: _Heard,
) -> None:
    """Decide the row's next state from its devices' answers and write it (fenced); what
    each answer says about its device goes to ``heard``. No commit."""
    succeeded: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    gone: list[int] = []
    transient: list[SendResult] = []
    for device, result in outcomes:
        report.deliveries += 1
        key = str(result.status) if result.status is not None else "error"
        report.statuses[key] = report.statuses.get(key, 0) + 1
        status = result.status
        if status is not None and 200 <= status < 300:
            succeeded.append(device.id)
        elif status in (404, 410):
            gone.append(device.id)
        else:
            failed[(result.error or f"HTTP {status}")[:200]].append(device.id)
            if status is None or status == 429 or status >= 500:
                transient.append(result)
    if succeeded:
        # It did reach the phone: recorded even if the plan was cancelled meanwhile (a
        # cancelled row must not come back as pending, but "sent" is the truth).
        done = conn.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.claim_token == token)
            .values(state=OutboxState.SENT, sent_at=now, last_error="")
            .execution_options(synchronize_session=False)
        ).rowcount
        report.sent += done
        report.lost += 1 - done
    elif transient and row.attempts < MAX_ATTEMPTS:
        retry_after = max((r.retry_after or 0 for r in transient), default=0) or None
        _count(
            report,
            "retried",
            _fenced(
                [row.id],
                token,
                conn,
                state=OutboxState.PENDING,
                available_at=now + backoff(row.attempts, retry_after),
                last_error=transient[0].error or f"HTTP {transient[0].status}",
            ),
        )
    elif gone and len(gone) == len(outcomes):
        _count(report, "no_device", _fenced([row.id], token, conn, state=OutboxState.NO_DEVICE))
    else:
        error = ("gave up: " if transient else "") + (outcomes[0][1].error or "not delivered")
        # available_at becomes the time it failed, which the clinic sees.
        _count(
            report,
            "failed",
            _fenced(
                [row.id],
                token,
                conn,
                state=OutboxState.FAILED,
                available_at=now,
                last_error=error[:200],
            ),
        )
    heard.succeeded.update(succeeded)
    for error, ids in failed.items():
        heard.failed[error].update(ids)
    heard.gone.update(gone)


def _count(report: DispatchReport, name: str, done: int) -> None:
    setattr(report, name, getattr(report, name) + done)
    report.lost += 1 - done


@dataclass
class _Heard:
    """What the push services said about each device during a batch, written once at
    its end in a few set-based statements (not per row: the per-row transaction carries
    only what exactly-once needs, the row's own state). A crash loses only these
    diagnostics; a gone device answers 404/410 again next time and is deleted then."""

    succeeded: set[int] = field(default_factory=set)
    failed: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    gone: set[int] = field(default_factory=set)

    def apply(self, conn: sa.Connection, now: datetime) -> int:
        """Write it all through ``conn``. Returns how many gone devices were deleted."""

        def update(ids: set[int], **values: object) -> None:
            conn.execute(
                sa.update(PushSubscription)
                .where(PushSubscription.id.in_(sorted(ids)))
                .values(**values)
                .execution_options(synchronize_session=False)
            )

        if self.succeeded - self.gone:
            update(self.succeeded - self.gone, last_success_at=now)
        for error, ids in self.failed.items():
            if ids - self.gone:
                update(ids - self.gone, last_failure_at=now, last_failure=error)
        if not self.gone:
            return 0
        return (
            conn.execute(
                sa.delete(PushSubscription)
                .where(PushSubscription.id.in_(sorted(self.gone)))
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )


def run_until_empty(sender: PushSender, now: datetime | Clock, **kwargs: object) -> DispatchReport:
    """Dispatch batches until nothing is due (``flask notifications send-due``).

    ``now`` is a clock, read afresh for every batch; a fixed instant means that instant
    moving on with real time (``advancing_clock``).
    """
    clock = advancing_clock(now) if isinstance(now, datetime) else now
    total = DispatchReport()
    while True:
        report = dispatch_due(sender, clock(), clock=clock, **kwargs)  # type: ignore[arg-type]
        total.add(report)
        if report.claimed == 0:
            return total
