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


def payload_for(row: OutboxMessage) -> bytes:
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


def dispatch_due(
    sender: PushSender,
    now: datetime,
    *,
    batch: int = 200,
    lease: timedelta = timedelta(seconds=60),
    workers: int = 8,
) -> DispatchReport:
    """Claim one batch of due rows and send them; returns what happened."""
    rows = outbox.claim(now, batch, lease)
    report = DispatchReport(claimed=len(rows))
    if not rows:
        return report
    subs = _subscriptions_for(rows)
    jobs = [(row, sub) for row in rows for sub in subs.get(_recipient(row), [])]
    results = list(_pool(workers).map(lambda job: _send_one(sender, *job), jobs))
    by_row: dict[int, list[tuple[PushSubscription, SendResult]]] = defaultdict(list)
    for (row, sub), result in zip(jobs, results, strict=True):
        by_row[row.id].append((sub, result))
        report.deliveries += 1
        key = str(result.status) if result.status is not None else "error"
        report.statuses[key] = report.statuses.get(key, 0) + 1
    for row in rows:
        _record(row, by_row.get(row.id, []), now, report)
    db.session.commit()
    return report


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: its threads keep their HTTP sessions (and so
    their keep-alive connections to each push service) from batch to batch."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")
    return pool


def _recipient(row: OutboxMessage) -> tuple[str, int]:
    """A clinic alert goes to a clinician's devices; everything else to the patient's."""
    if row.recipient_user_id is not None:
        return ("user", row.recipient_user_id)
    return ("patient", row.patient_id)


def _subscriptions_for(rows: list[OutboxMessage]) -> dict[tuple[str, int], list[PushSubscription]]:
    """The devices of every recipient in the batch, in one query."""
    patients = {r.patient_id for r in rows if r.recipient_user_id is None}
    users = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
    found: dict[tuple[str, int], list[PushSubscription]] = defaultdict(list)
    query = sa.select(PushSubscription).where(
        sa.or_(PushSubscription.patient_id.in_(patients), PushSubscription.user_id.in_(users))
    )
    for sub in db.session.scalars(query):
        owner = ("user", sub.user_id) if sub.user_id is not None else ("patient", sub.patient_id)
        found[owner].append(sub)  # type: ignore[index]
    return found


def _send_one(sender: PushSender, row: OutboxMessage, sub: PushSubscription) -> SendResult:
    info = SubscriptionInfo(sub.endpoint, sub.p256dh, sub.auth)
    try:
        return sender.send(
            info,
            payload_for(row),
            ttl=TTL_SECONDS.get(row.kind, 86400),
            urgency="high" if row.time_critical else "normal",
            topic=f"sc{row.id}",
        )
    except Exception as exc:  # noqa: BLE001 - one bad device must not stop the batch
        log.exception("push send failed")
        return SendResult(None, error=type(exc).__name__)


def _record(
    row: OutboxMessage,
    outcomes: list[tuple[PushSubscription, SendResult]],
    now: datetime,
    report: DispatchReport,
) -> None:
    """Decide the row's next state from its devices' answers."""
    if not outcomes:
        row.state = OutboxState.NO_DEVICE
        report.no_device += 1
        return
    transient: list[SendResult] = []
    for sub, result in outcomes:
        status = result.status
        if status is not None and 200 <= status < 300:
            sub.last_success_at = now
        elif status in (404, 410):
            if sub not in db.session.deleted:
                db.session.delete(sub)
                report.gone_subscriptions += 1
        else:
            sub.last_failure_at, sub.last_failure = now, (result.error or f"HTTP {status}")[:200]
            if status is None or status == 429 or status >= 500:
                transient.append(result)
    if any(r.status is not None and 200 <= r.status < 300 for _, r in outcomes):
        row.state, row.sent_at, row.last_error = OutboxState.SENT, now, ""
        report.sent += 1
    elif transient and row.attempts < MAX_ATTEMPTS:
        retry_after = max((r.retry_after or 0 for r in transient), default=0) or None
        row.state, row.available_at = OutboxState.PENDING, now + backoff(row.attempts, retry_after)
        row.last_error = transient[0].error or f"HTTP {transient[0].status}"
        report.retried += 1
    elif all(r.status in (404, 410) for _, r in outcomes):
        row.state = OutboxState.NO_DEVICE
        report.no_device += 1
    else:
        row.state = OutboxState.FAILED
        row.last_error = ("gave up: " if transient else "") + (
            outcomes[0][1].error or "not delivered"
        )
        report.failed += 1


def run_until_empty(sender: PushSender, now: datetime, **kwargs: object) -> DispatchReport:
    """Dispatch batches until nothing is due (``flask notifications send-due``)."""
    total = DispatchReport()
    while True:
        report = dispatch_due(sender, now, **kwargs)  # type: ignore[arg-type]
        total.add(report)
        if report.claimed == 0:
            return total
