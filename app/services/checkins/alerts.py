"""Raising the clinic's alert for a check-in whose answers need a clinician: one open
alert per check-in, which an edit may raise but never lower.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.domain.checkin import Triage
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.services.notify.enqueue import enqueue_staff_alert

SEVERITY = {"emergency": 0, "same_day": 1}


def raise_alert(checkin: CheckIn, decision: Triage, now: datetime) -> None:
    """One open alert per check-in; an edit can raise its tier and add reasons, never
    take any away before a clinician has seen it."""
    open_alert = db.session.scalar(
        sa.select(Alert).where(Alert.checkin_id == checkin.id, Alert.acknowledged_at.is_(None))
    )
    severity = SEVERITY[decision.level]
    if open_alert is None:
        alert = Alert(
            patient_id=checkin.patient_id,
            clinic_id=checkin.clinic_id,
            checkin_id=checkin.id,
            level=decision.level,
            severity=severity,
            reasons=list(decision.reasons),
            created_at=now,
        )
        db.session.add(alert)
        db.session.flush()
        enqueue_staff_alert(alert, checkin.treatment_id, now)
    else:
        # An edit before anyone has seen the alert may raise its tier, never lower it,
        # and adds its reasons to those already given: the clinic must still see the
        # chest pain the patient reported first (and write a note to acknowledge it).
        if severity < open_alert.severity:
            open_alert.level, open_alert.severity = decision.level, severity
        new = [r for r in decision.reasons if r not in open_alert.reasons]
        if new:
            open_alert.reasons = [*open_alert.reasons, *new]
