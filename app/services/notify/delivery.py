"""Sending claimed rows to their devices and recording each row's outcome.

What each push-service answer means (RFC 8030; security checklist F10):

* 201 (any 2xx): delivered; the row is sent.
* 404 / 410: that subscription is gone; it is deleted, never retried.
* 429: too many requests; retried no sooner than Retry-After.
* 5xx, timeouts, connection errors: retried with exponential back-off, then the row
  fails visibly (the clinician sees it).
* 400 / 403 / 413 and other 4xx: a problem with the message or our keys; not retried.

A row with several devices is sent when at least one device got it. Every write for a
claimed row is fenced by its claim token (``fenced``); outcomes are committed one by one
on a connection of their own, as each row's sends return (see ``dispatch`` for why).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections import deque
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
from functools import lru_cache

import sqlalchemy as sa

from app.adapters.push import PushSender
from app.adapters.push import SendResult
from app.domain.reminders import TITLE
from app.domain.reminders import message_for
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.services.notify import outbox
from app.services.notify.languages import written_in
from app.services.notify.outbox import ClaimedMessage
from app.services.notify.recipients import Device
from app.services.notify.report import Clock
from app.services.notify.report import DispatchReport

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


def fenced(ids: list[int], token: str, conn: sa.Connection | None = None, **values: object) -> int:
    """Write ``values`` to the rows of ``ids`` this claim still holds; how many it did.

    Through ``conn`` (the recording connection) when given, else the session."""
    fence = {"fence_ids": sorted(ids), "fence_token": token}
    if any(isinstance(v, sa.ClauseElement) for v in values.values()):
        # A value computed in SQL (``attempts - 1``) is part of the statement itself.
        statement = _fenced_where(sa.update(OutboxMessage)).values(**values)
        return (conn or db.session).execute(statement, fence).rowcount or 0
    params = {f"v_{name}": value for name, value in values.items()} | fence
    result = (conn or db.session).execute(_fenced_update(tuple(sorted(values))), params)
    return result.rowcount or 0


@lru_cache(maxsize=32)
def _fenced_update(names: tuple[str, ...]) -> sa.Update:
    """The fenced UPDATE for one set of columns, built once with bound parameters.

    It runs once per message sent (push or email): building the statement object anew
    each time cost about as much as the database round trip (bench/email_fanout.py).
    """
    return _fenced_where(sa.update(OutboxMessage)).values(
        {name: sa.bindparam(f"v_{name}") for name in names}
    )


def _fenced_where(statement: sa.Update) -> sa.Update:
    """Only rows of these ids that this claim (its token) still holds."""
    return statement.where(
        OutboxMessage.id.in_(sa.bindparam("fence_ids", expanding=True)),
        OutboxMessage.claim_token == sa.bindparam("fence_token"),
        OutboxMessage.state == OutboxState.SENDING,
    ).execution_options(synchronize_session=False)


# ------------------------------------------------------------------ sending


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size, so threads are not started for every batch."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")
    return pool


def send_and_record(
    sender: PushSender,
    todo: list[tuple[ClaimedMessage, list[Device]]],
    token: str,
    clock: Clock,
    lease: timedelta | None,
    workers: int,
    report: DispatchReport,
    locales: dict[int, str] | None = None,
) -> None:
    """Send rows, at most ``workers`` at once; record and commit each as it returns.

    Each row's payload is written here, in its reader's language (``locales``, by row
    id: app/services/notify/languages.py), before the sends start: the pool's threads
    have no app context to translate in.

    This thread owns the database session: it starts sends on the pool, writes each
    outcome as soon as the row's sends are back, and renews the lease of every row the
    claim still holds each ``lease / 3``. A row counts as in flight from the moment its
    send starts until its outcome is committed, so a crash repeats at most ``workers``.
    """
    queue = deque(todo)
    payloads = {
        row.id: written_in((locales or {}).get(row.id), payload_for, row) for row, _ in todo
    }
    held = {row.id for row, _ in todo}
    in_flight: dict[Future[list[tuple[Device, SendResult]]], ClaimedMessage] = {}
    renew_every = lease.total_seconds() / 3 if lease is not None else 3600.0
    renewed = time.monotonic()
    pool = _pool(workers)
    heard = _Heard()
    with recording_connection() as conn:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                row, devices = queue.popleft()
                in_flight[pool.submit(_send_row, sender, row, devices, payloads[row.id])] = row
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
def recording_connection() -> Iterator[sa.Connection]:
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
    sender: PushSender, row: ClaimedMessage, devices: list[Device], payload: bytes
) -> list[tuple[Device, SendResult]]:
    """Send one row's ``payload`` to each of its devices (a person has a few at most)."""
    return [(device, _send_one(sender, row, device, payload)) for device in devices]


def _send_one(
    sender: PushSender, row: ClaimedMessage, device: Device, payload: bytes
) -> SendResult:
    try:
        return sender.send(
            device.info,
            payload,
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
            fenced(
                [row.id],
                token,
                conn,
                state=OutboxState.PENDING,
                available_at=now + backoff(row.attempts, retry_after),
                last_error=transient[0].error or f"HTTP {transient[0].status}",
            ),
        )
    elif gone and len(gone) == len(outcomes):
        _count(report, "no_device", fenced([row.id], token, conn, state=OutboxState.NO_DEVICE))
    else:
        error = ("gave up: " if transient else "") + (outcomes[0][1].error or "not delivered")
        # available_at becomes the time it failed, which the clinic sees.
        _count(
            report,
            "failed",
            fenced(
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
