"""What goes into the outbox: one ``enqueue_*`` function for each kind of message.

* ``enqueue_reminders``: the reminders a treatment's protocol plans (checklist items,
  check-ins, milestones, "time to book"), kept in line with the plan as the treatment is
  booked, moved, recorded or cancelled; ``replan_patient`` runs it over a whole course.
* ``enqueue_comment``: a clinic comment in the patient's diary (after quiet hours).
* ``enqueue_staff_alert``: a new red-flag alert, to each clinician's devices (at once).

Rows are written in the same transaction as the change that causes them, by the service
making that change, and never committed here. Keys make every call repeatable: one row
per (treatment, key), so repeating an action never doubles a message.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.reminders import PlannedReminder
from app.domain.reminders import QuietHours
from app.domain.reminders import after_quiet_hours
from app.domain.reminders import plan_treatment
from app.extensions import db
from app.models import Alert
from app.models import Comment
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.models.notification import OPEN_STATES
from app.services.protocols import protocol_by_version

# A reminder planned for a moment already this far past is not sent late (recording a
# treatment a day after it happened must not fire yesterday's reminders at once).
STALE_AFTER = timedelta(hours=2)
# Keys of rows queued by an event (a clinic comment, a new alert) rather than planned.
EVENT_KEYS = ("comment:", "alert:")


def enqueue_reminders(
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
    # A discharged patient gets nothing planned: re-planning cancels their open rows.
    if treatment.status == TreatmentStatus.CANCELLED or patient.discharged_at is not None:
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
    elif row.state in _FINISHED and r.due > now and r.due - row.due_at >= REARM_AFTER:
        # Done for a time the plan no longer holds (a session moved a day or more later
        # after its "24 hours before" reminders went out): due again at the new time, or
        # the patient would never be reminded for the real date. A smaller move (quiet
        # hours changed, a session an hour later) never sends the same reminder twice.
        row.state, row.sent_at, row.last_error, row.claim_token = (
            OutboxState.PENDING,
            None,
            "",
            None,
        )
    elif row.state != OutboxState.PENDING or (row.due_at, row.expires_at) == (r.due, r.expires):
        return 0
    row.due_at = row.available_at = r.due
    row.link, row.time_critical, row.attempts = r.link, r.time_critical, 0
    row.expires_at = r.expires
    return 1


# How much later a finished reminder's plan must move for it to be sent again: more
# than any quiet-hours shift (under a day), so only a moved session re-arms it.
REARM_AFTER = timedelta(hours=24)
# Rows whose reminder is over (sent, given up, or not sent), as opposed to waiting,
# being sent, or cancelled by a change of plan.
_FINISHED = frozenset(
    {
        OutboxState.SENT,
        OutboxState.NO_DEVICE,
        OutboxState.FAILED,
        OutboxState.DROPPED,
        OutboxState.DIGESTED,
        OutboxState.MERGED,
    }
)


def replan_patient(patient_id: int, now: datetime) -> int:
    """Re-plan every session of a patient; no commit.

    After any change to a session, not only that session's plan changes: an earlier
    session loses its "time to book" reminder once another is booked, and its aftercare
    reminders once another is treated. Quiet hours affect them all.
    """
    treatments = list(
        db.session.scalars(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    )
    return sum(enqueue_reminders(t, now, treatments) for t in treatments)


def enqueue_comment(comment: Comment, patient: Patient, now: datetime) -> None:
    """Queue a generic "new comment" push for the patient; no commit.

    Not urgent by nature (anything urgent is a phone call): it waits for the end of the
    patient's quiet hours like every other reminder that is not time-critical.
    """
    latest = db.session.scalar(
        sa.select(Treatment.id)
        .where(Treatment.patient_id == patient.id)
        .order_by(Treatment.appointment_at.desc())
    )
    if latest is None or patient.discharged_at is not None:  # discharged: no pushes
        return
    due = after_quiet_hours(
        now, ZoneInfo(patient.timezone), QuietHours(patient.quiet_start, patient.quiet_end)
    )
    db.session.add(
        OutboxMessage(
            patient_id=patient.id,
            treatment_id=latest,
            key=f"comment:{comment.id}",
            kind="comment",
            link="/patient/diary",
            due_at=due,
            available_at=due,
            state=OutboxState.PENDING,
        )
    )


def enqueue_staff_alert(
    alert: Alert, treatment_id: int, now: datetime, *, escalated: bool = False
) -> None:
    """Queue a push to each clinician of the clinic who turned on alerts on a device.

    Time-critical (no quiet hours) and generic: no name or symptom on a lock screen.
    ``escalated``: an open alert just raised to emergency by the patient's edit, pushed
    again under its own key (staff may have seen and put aside the same-day one).
    """
    tag = ":emergency" if escalated else ""
    staff = db.session.scalars(
        sa.select(PushSubscription.user_id)
        .join(User, User.id == PushSubscription.user_id)
        .where(User.clinic_id == alert.clinic_id, User.is_active.is_(True))
        .distinct()
    )
    for user_id in staff:
        db.session.add(
            OutboxMessage(
                patient_id=alert.patient_id,
                treatment_id=treatment_id,
                recipient_user_id=user_id,
                key=f"alert:{alert.id}{tag}:{user_id}",
                kind="alert",
                link="/clinic/",
                time_critical=True,
                due_at=now,
                available_at=now,
                state=OutboxState.PENDING,
            )
        )
