"""Raising the clinic's alert for a check-in whose answers need a clinician: one open
alert per treatment day, which an edit may raise but never lower.

An alert is keyed by its treatment and day, not only by its check-in: a warning sign
answered "yes" on a form refused for another reason is alerted at once, before any
check-in exists (issue 19 point 3), and the check-in sent later joins that alert, so
the same answer never raises a second alert or a second push.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.domain.checkin import Triage
from app.domain.reasons import already_told
from app.domain.reasons import came_back
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.services.notify.enqueue import enqueue_staff_alert

SEVERITY = {"emergency": 0, "same_day": 1}


@dataclass(frozen=True)
class Answered:
    """The reasons a stored check-in's answers gave, and when they were sent."""

    reasons: tuple[str, ...]
    at: datetime


def day_checkin(treatment_id: int, day: int) -> CheckIn | None:
    """The day's stored check-in, read afresh (call it after the patient's lock: another
    device's answers committed since this request loaded the day must count)."""
    return db.session.scalar(
        sa.select(CheckIn)
        .where(CheckIn.treatment_id == treatment_id, CheckIn.day == day)
        .execution_options(populate_existing=True)
    )


def answered(checkin: CheckIn | None) -> Answered | None:
    """What a stored check-in's answers gave, before they are replaced or joined."""
    if checkin is None:
        return None
    return Answered(tuple(checkin.reasons or ()), checkin.updated_at)


@dataclass(frozen=True)
class AlertDay:
    """Whose alert, for which treatment day, and its check-in once stored; ``before``:
    the day's stored answers before this submission (an edit, or a refused form)."""

    patient_id: int
    clinic_id: int
    treatment_id: int
    day: int
    checkin: CheckIn | None = None
    before: Answered | None = None


def raise_alert(
    checkin: CheckIn, decision: Triage, now: datetime, before: Answered | None = None
) -> None:
    """One open alert per check-in; an edit can raise its tier and add reasons, never
    take any away before a clinician has seen it."""
    raise_day_alert(
        AlertDay(
            checkin.patient_id,
            checkin.clinic_id,
            checkin.treatment_id,
            checkin.day,
            checkin,
            before,
        ),
        decision,
        now,
    )


def raise_day_alert(at: AlertDay, decision: Triage, now: datetime) -> Alert:
    """The day's open alert, made or raised; the check-in, if stored, joins it.

    The day's latest alert, once acknowledged, is not raised again for the same
    answers: not when the check-in is then sent or a refused form comes again (a second
    tap, or the offline queue sending it after the clinic has rung), nor when the
    patient edits the stored day only to add a note (adversarial review, 2026-12-08:
    that raised a second emergency and a second staff push for what the clinic had
    dealt with). A new answer, or a higher tier, is alerted as usual.
    """
    severity = SEVERITY[decision.level]
    latest = _latest_alert(at)
    if latest is not None and latest.acknowledged_at is not None:
        if at.checkin is not None and latest.checkin_id is None:
            latest.checkin_id = at.checkin.id  # raised from a refused form: it joins
        # Answers sent since that alert that no longer gave a reason ("no" to the calf
        # sign after the clinic rang): the reason coming back is news, and is alerted
        # (adversarial review, 2026-12-08: it raised nothing, and the patient was told
        # the clinic had been alerted).
        since = at.before if at.before is not None and at.before.at >= latest.created_at else None
        if (
            severity >= latest.severity
            and already_told(decision.reasons, latest.reasons)
            and (since is None or not came_back(decision.reasons, latest.reasons, since.reasons))
        ):
            return latest
    open_alert = _open_alert(at)
    if open_alert is None:
        alert = Alert(
            patient_id=at.patient_id,
            clinic_id=at.clinic_id,
            checkin_id=at.checkin.id if at.checkin else None,
            treatment_id=at.treatment_id,
            day=at.day,
            level=decision.level,
            severity=severity,
            reasons=list(decision.reasons),
            created_at=now,
        )
        db.session.add(alert)
        db.session.flush()
        enqueue_staff_alert(alert, at.treatment_id, now)
        return alert
    if at.checkin is not None and open_alert.checkin_id is None:
        open_alert.checkin_id = at.checkin.id
    # An edit before anyone has seen the alert may raise its tier, never lower it,
    # and adds its reasons to those already given: the clinic must still see the
    # chest pain the patient reported first (and write a note to acknowledge it).
    if severity < open_alert.severity:
        open_alert.level, open_alert.severity = decision.level, severity
        # Staff who saw the same-day push and left it for later must hear of this now.
        enqueue_staff_alert(open_alert, at.treatment_id, now, escalated=True)
    new = [r for r in decision.reasons if r not in open_alert.reasons]
    if new:
        open_alert.reasons = [*open_alert.reasons, *new]
    return open_alert


def _open_alert(at: AlertDay) -> Alert | None:
    """The day's alert no clinician has acknowledged yet (found by its check-in too,
    for an alert stored without its day)."""
    same_day = sa.and_(Alert.treatment_id == at.treatment_id, Alert.day == at.day)
    key = sa.or_(same_day, Alert.checkin_id == at.checkin.id) if at.checkin else same_day
    return db.session.scalar(
        sa.select(Alert)
        .where(key, Alert.acknowledged_at.is_(None))
        .order_by(Alert.severity, Alert.id)
        .limit(1)
    )


def _latest_alert(at: AlertDay) -> Alert | None:
    """The latest alert raised for this day (from a refused form or a check-in)."""
    return db.session.scalar(
        sa.select(Alert)
        .where(Alert.treatment_id == at.treatment_id, Alert.day == at.day)
        .order_by(Alert.id.desc())
        .limit(1)
    )
