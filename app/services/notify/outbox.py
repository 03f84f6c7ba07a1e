"""The notification outbox: plan rows from treatments, claim them, record outcomes.

Rows are written in the same transaction as the change that caused them (booking,
recording, moving or cancelling a treatment), one per (treatment, key), so repeating
an action never doubles a reminder. Dispatchers claim due rows with a lease: on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, on SQLite with a single conditional UPDATE
(SQLite runs one writer at a time, so the claim is atomic there too). A dispatcher that
dies leaves its rows to be claimed again when the lease ends.

Every claim writes a fresh fencing token into its rows. Renewing a lease and writing an
outcome are conditional on that token (``WHERE id = :id AND claim_token = :token``), so
a dispatcher whose lease ran out and whose rows another dispatcher took can no longer
change them (app.services.notify.dispatch explains the leases).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models.notification import READY_PREDICATE


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A claimed row: what sending it and recording the outcome need.

    Plain values, not an ORM object: the dispatcher writes outcomes with set-based
    UPDATEs, so nothing needs tracking by the session.
    """

    id: int
    patient_id: int | None
    recipient_user_id: int | None
    kind: str
    link: str
    time_critical: bool
    attempts: int
    due_at: datetime
    expires_at: datetime | None
    channel: str = "push"
    key: str = ""
    detail: str = ""
    # An account email's link (token included) until it is sent; None for other rows.
    secret: str | None = None


_CLAIMED_COLUMNS = tuple(getattr(OutboxMessage, f.name) for f in dataclasses.fields(ClaimedMessage))


def new_token() -> str:
    """A fencing token for one claim (128 random bits, hex)."""
    return uuid.uuid4().hex


def claim(
    now: datetime, limit: int, lease: timedelta, token: str | None = None
) -> list[ClaimedMessage]:
    """Atomically take up to ``limit`` due rows for this dispatcher, and commit.

    A row is due when it is pending and its time has come, or when it is being sent
    but its lease has run out (its dispatcher died). Claimed rows get a new lease and
    the claim's fencing token ``token`` (a fresh one when not given). One statement
    claims them and returns what sending needs (``attempts`` counts this attempt), in
    id order.
    """
    ready = (
        sa.select(OutboxMessage.id)
        # The state test is literal SQL, the same text as the partial index's predicate:
        # with bound parameters SQLite cannot prove the index applies and scans the table.
        .where(READY_PREDICATE, OutboxMessage.available_at <= now)
        .order_by(OutboxMessage.available_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        ready = ready.with_for_update(skip_locked=True)
    rows = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ready.scalar_subquery()))
        .values(
            state=OutboxState.SENDING,
            available_at=now + lease,
            attempts=OutboxMessage.attempts + 1,
            claim_token=token or new_token(),
        )
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    # RETURNING order is unspecified on both databases.
    return sorted((ClaimedMessage(*row) for row in rows), key=lambda m: m.id)


def renew(
    ids: Iterable[int], token: str, until: datetime, conn: sa.Connection | None = None
) -> set[int]:
    """Extend the lease of rows this claim still holds, and commit (through ``conn``, an
    autocommit connection, when given; else the session).

    :returns: the ids still held; the others were cancelled or taken by another claim
        (only possible if this dispatcher stalled past its lease), and must not be sent.
    """
    ids = sorted(ids)
    if not ids:
        return set()
    statement = (
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claim_token == token,
            OutboxMessage.state == OutboxState.SENDING,
        )
        .values(available_at=until)
        .returning(OutboxMessage.id)
    )
    if conn is not None:
        return set(conn.scalars(statement).all())
    kept = db.session.scalars(statement.execution_options(synchronize_session=False)).all()
    db.session.commit()
    return set(kept)


def counts_by_state(patient_ids: Iterable[int] | None = None) -> dict[str, int]:
    """How many outbox rows are in each state (for reports and tests)."""
    query = sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)
    if patient_ids is not None:
        query = query.where(OutboxMessage.patient_id.in_(list(patient_ids)))
    return {state.value: n for state, n in db.session.execute(query)}
