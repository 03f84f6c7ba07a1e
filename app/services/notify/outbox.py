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
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.reminders import PlannedReminder
from app.domain.reminders import QuietHours
from app.domain.reminders import plan_treatment
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from app.models.notification import OPEN_STATES
from app.models.notification import READY_PREDICATE
from app.services.protocols import protocol_by_version

# A reminder planned for a moment already this far past is not sent late (recording a
# treatment a day after it happened must not fire yesterday's reminders at once).
STALE_AFTER = timedelta(hours=2)
# Keys of rows queued by an event (a clinic comment, a new alert) rather than planned.
EVENT_KEYS = ("comment:", "alert:")


def sync_treatment(
    treatment: Treatment, now: datetime, course: list[Treatment] | None = None
) -> int:
    """Bring a treatment's outbox rows in line with its current plan; no commit.

    Pending rows move to their new due time; rows no longer in the plan (cancelled
    treatment, changed protocol) are cancelled; rows already sent are left alone.

    ``course``: all the patient's sessions, when the caller has them already.

    :returns: the number of rows added, moved or cancelled.
    """
    db.session.flush()
    patient: Patient = treatment.patient
    existing = {
        row.key: row
        for row in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.treatment_id == treatment.id)
        )
        # A clinic comment or a staff alert is queued by an event, not planned: a new
        # plan must never cancel it.
        if not row.key.startswith(EVENT_KEYS)
    }
    planned = {r.key: r for r in _plan(treatment, patient, _later_sessions(treatment, course))}
    changes = 0
    for key, row in existing.items():
        if row.state.value in OPEN_STATES and key not in planned:
            row.state = OutboxState.CANCELLED
            changes += 1
    for key, reminder in planned.items():
        changes += _upsert(treatment, patient, existing.get(key), reminder, now)
    return changes


def _later_sessions(treatment: Treatment, course: list[Treatment] | None) -> list[Treatment]:
    """The patient's live sessions after this one (booked or treated)."""
    if course is None:
        course = list(
            db.session.scalars(
                sa.select(Treatment).where(Treatment.patient_id == treatment.patient_id)
            )
        )
    return [
        t
        for t in course
        if t.id != treatment.id
        and t.status != TreatmentStatus.CANCELLED
        and t.appointment_at > treatment.appointment_at
    ]


def _plan(treatment: Treatment, patient: Patient, later: list[Treatment]) -> list[PlannedReminder]:
    if treatment.status == TreatmentStatus.CANCELLED:
        return []
    version = treatment.protocol_version
    protocol = protocol_by_version(version.id, version.sha256, version.source_text)
    return plan_treatment(
        protocol,
        appointment=treatment.appointment_at,
        treated_at=treatment.treated_at if treatment.status == TreatmentStatus.DONE else None,
        tz=ZoneInfo(patient.timezone),
        quiet=QuietHours(patient.quiet_start, patient.quiet_end),
        next_booked=bool(later),
        next_treated_at=min(
            (t.treated_at for t in later if t.status == TreatmentStatus.DONE and t.treated_at),
            default=None,
        ),
    )


def _upsert(
    treatment: Treatment,
    patient: Patient,
    row: OutboxMessage | None,
    r: PlannedReminder,
    now: datetime,
) -> int:
    if row is None:
        if r.due < now - STALE_AFTER:
            return 0
        db.session.add(
            OutboxMessage(
                patient_id=patient.id,
                treatment_id=treatment.id,
                key=r.key,
                kind=r.kind,
                link=r.link,
                time_critical=r.time_critical,
                due_at=r.due,
                available_at=r.due,
                expires_at=r.expires,
                state=OutboxState.PENDING,
            )
        )
        return 1
    if row.state == OutboxState.CANCELLED and r.due >= now - STALE_AFTER:
        row.state = OutboxState.PENDING  # booked again after a cancellation
    elif row.state != OutboxState.PENDING or (row.due_at, row.expires_at) == (r.due, r.expires):
        return 0
    row.due_at = row.available_at = r.due
    row.link, row.time_critical, row.attempts = r.link, r.time_critical, 0
    row.expires_at = r.expires
    return 1


def sync_patient(patient_id: int, now: datetime) -> int:
    """Re-plan every session of a patient; no commit.

    After any change to a session, not only that session's plan changes: an earlier
    session loses its "time to book" reminder once another is booked, and its aftercare
    reminders once another is treated. Quiet hours affect them all.
    """
    treatments = list(
        db.session.scalars(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    )
    return sum(sync_treatment(t, now, treatments) for t in treatments)


# ------------------------------------------------------------------ claiming


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A claimed row: what sending it and recording the outcome need.

    Plain values, not an ORM object: the dispatcher writes outcomes with set-based
    UPDATEs, so nothing needs tracking by the session.
    """

    id: int
    patient_id: int
    recipient_user_id: int | None
    kind: str
    link: str
    time_critical: bool
    attempts: int
    due_at: datetime
    expires_at: datetime | None


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
