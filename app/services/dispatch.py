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
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app.domain.reminders import TITLE
from app.domain.reminders import message_for
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.services import outbox
from app.services.outbox import ClaimedMessage
from app.services.push import PushSender
from app.services.push import SendResult
from app.services.push import SubscriptionInfo

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=2)
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
            "deliveries",
            "gone_subscriptions",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + n


def payload_for(row: ClaimedMessage) -> bytes:
    """The notification as the service worker gets it: generic words and a link only.

    No name, treatment, body part or date: lock screens are public (checklist F11).
    ``tag`` and the Topic header share the row id, so a re-send replaces, not repeats.
    """
    body = {
        "title": TITLE,
        "body": message_for(row.kind),
        "tag": f"sc-{row.id}",
        "data": {"url": row.link},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential back-off from 30 s, capped at 2 h, never sooner than Retry-After."""
    wait = min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


@dataclass(frozen=True, slots=True)
class Device:
    """One stored push subscription, as sending needs it."""

    id: int
    info: SubscriptionInfo


def dispatch_due(
    sender: PushSender,
    now: datetime,
    *,
    batch: int = 200,
    lease: timedelta = timedelta(seconds=60),
    workers: int = 8,
) -> DispatchReport:
    """Claim one batch of due rows, send them, record the outcomes; one commit at the end.

    Up to ``workers`` sends are in flight at once: while one waits for a push service,
    another encrypts. (bench/push_fanout.py: with a push service answering after 20 ms,
    8 in flight send about 7 times as fast as one at a time; answering at once, 8 and 1
    were within the shared machine's noise of each other, so no need to tune it down.)
    """
    rows = outbox.claim(now, batch, lease)
    report = DispatchReport(claimed=len(rows))
    if not rows:
        return report
    devices = _devices_for(rows)
    # End the read transaction before the network: no snapshot or idle-in-transaction
    # connection held while push services answer (up to the timeout).
    db.session.commit()
    jobs = [(row, device) for row in rows for device in devices.get(_recipient(row), ())]
    results = _send_all(sender, jobs, workers)
    by_row: dict[int, list[tuple[Device, SendResult]]] = defaultdict(list)
    for (row, device), result in zip(jobs, results, strict=True):
        by_row[row.id].append((device, result))
        report.deliveries += 1
        key = str(result.status) if result.status is not None else "error"
        report.statuses[key] = report.statuses.get(key, 0) + 1
    writes = _Writes()
    for row in rows:
        _record(row, by_row.get(row.id, []), now, report, writes)
    writes.apply(now)
    db.session.commit()
    return report


def _recipient(row: ClaimedMessage) -> tuple[str, int]:
    """A clinic alert goes to a clinician's devices; everything else to the patient's."""
    if row.recipient_user_id is not None:
        return ("user", row.recipient_user_id)
    return ("patient", row.patient_id)


def _devices_for(rows: list[ClaimedMessage]) -> dict[tuple[str, int], list[Device]]:
    """The devices of every recipient in the batch, in one query (columns, not objects)."""
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
    return found


# ------------------------------------------------------------------ sending


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size, so threads are not started for every batch."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")
    return pool


def _send_all(
    sender: PushSender, jobs: list[tuple[ClaimedMessage, Device]], workers: int
) -> list[SendResult]:
    """Send every job, up to ``workers`` at once; results in job order.

    This thread sends too; helpers from the pool take jobs from the same queue, so
    there is one task per helper, not one per message.
    """
    results: list[SendResult | None] = [None] * len(jobs)
    todo = deque(range(len(jobs)))

    def work() -> None:
        while True:
            try:
                i = todo.popleft()  # deque.popleft is atomic: each job is taken once
            except IndexError:
                return
            results[i] = _send_one(sender, *jobs[i])

    helpers = min(workers, len(jobs)) - 1
    running = [_pool(workers - 1).submit(work) for _ in range(helpers)] if helpers > 0 else []
    work()
    for helper in running:
        helper.result()
    return results  # type: ignore[return-value] - every slot is filled by now


def _send_one(sender: PushSender, row: ClaimedMessage, device: Device) -> SendResult:
    try:
        return sender.send(
            device.info,
            payload_for(row),
            ttl=TTL_SECONDS.get(row.kind, 86400),
            urgency="high" if row.time_critical else "normal",
            topic=f"sc{row.id}",
        )
    except Exception as exc:  # noqa: BLE001 - one bad device must not stop the batch
        log.exception("push send failed")
        return SendResult(None, error=type(exc).__name__)


# ------------------------------------------------------------------ recording


@dataclass
class _Writes:
    """Outcomes of a batch, written as a few set-based statements instead of one UPDATE
    per row and per device (the common case, all sent, is two statements)."""

    rows: dict[tuple[tuple[str, object], ...], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    succeeded: set[int] = field(default_factory=set)
    failed: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    gone: set[int] = field(default_factory=set)

    def row(self, row_id: int, **values: object) -> None:
        self.rows[tuple(sorted(values.items()))].append(row_id)

    def apply(self, now: datetime) -> None:
        def update(model: type[OutboxMessage] | type[PushSubscription], ids, *where, **values):
            db.session.execute(
                sa.update(model)
                .where(model.id.in_(sorted(ids)), *where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

        for values, ids in self.rows.items():
            changes = dict(values)
            # A sent row did reach the phone. Any other outcome applies only to rows still
            # claimed: one cancelled by a plan change while it was being sent must not
            # come back as pending.
            still_claimed = (
                ()
                if changes["state"] == OutboxState.SENT
                else (OutboxMessage.state == OutboxState.SENDING,)
            )
            update(OutboxMessage, ids, *still_claimed, **changes)
        if self.succeeded:
            update(PushSubscription, self.succeeded, last_success_at=now)
        for error, ids in self.failed.items():
            update(PushSubscription, ids, last_failure_at=now, last_failure=error)
        if self.gone:
            db.session.execute(
                sa.delete(PushSubscription)
                .where(PushSubscription.id.in_(sorted(self.gone)))
                .execution_options(synchronize_session=False)
            )


def _record(
    row: ClaimedMessage,
    outcomes: list[tuple[Device, SendResult]],
    now: datetime,
    report: DispatchReport,
    writes: _Writes,
) -> None:
    """Decide the row's next state from its devices' answers."""
    if not outcomes:
        writes.row(row.id, state=OutboxState.NO_DEVICE)
        report.no_device += 1
        return
    transient: list[SendResult] = []
    for device, result in outcomes:
        status = result.status
        if status is not None and 200 <= status < 300:
            writes.succeeded.add(device.id)
        elif status in (404, 410):
            if device.id not in writes.gone:
                writes.gone.add(device.id)
                report.gone_subscriptions += 1
        else:
            writes.failed[(result.error or f"HTTP {status}")[:200]].add(device.id)
            if status is None or status == 429 or status >= 500:
                transient.append(result)
    if any(r.status is not None and 200 <= r.status < 300 for _, r in outcomes):
        writes.row(row.id, state=OutboxState.SENT, sent_at=now, last_error="")
        report.sent += 1
    elif transient and row.attempts < MAX_ATTEMPTS:
        retry_after = max((r.retry_after or 0 for r in transient), default=0) or None
        writes.row(
            row.id,
            state=OutboxState.PENDING,
            available_at=now + backoff(row.attempts, retry_after),
            last_error=transient[0].error or f"HTTP {transient[0].status}",
        )
        report.retried += 1
    elif all(r.status in (404, 410) for _, r in outcomes):
        writes.row(row.id, state=OutboxState.NO_DEVICE)
        report.no_device += 1
    else:
        error = ("gave up: " if transient else "") + (outcomes[0][1].error or "not delivered")
        # available_at becomes the time it failed, which the clinician sees.
        writes.row(row.id, state=OutboxState.FAILED, available_at=now, last_error=error[:200])
        report.failed += 1


def run_until_empty(sender: PushSender, now: datetime, **kwargs: object) -> DispatchReport:
    """Dispatch batches until nothing is due (``flask notifications send-due``)."""
    total = DispatchReport()
    while True:
        report = dispatch_due(sender, now, **kwargs)  # type: ignore[arg-type]
        total.add(report)
        if report.claimed == 0:
            return total
