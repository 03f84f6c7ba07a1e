"""Refused reads by patients, and the alert when there are too many (issue 18,
checklist E2).

A patient who asks for a photo or a device that is not theirs gets "not found", as
before; now the refusal is also an audit event (``refused``: the patient's clinic and
user id, and what was asked, such as "photo #12", never any data). Someone walking
through ids one by one (a script on a stolen session, say) shows up as volume: more
than ``SCLERO_REFUSAL_ALERT_LIMIT`` refusals by one account in an hour add one
``refusals_alert`` event for that account per hour, which the clinic's admins see on
the staff page (``alerts_this_week``).

The count is read from the audit trail itself, so there is no second counter to keep
in step. Two refusals committing at the same moment can each see the count cross the
limit and both alert: a rare duplicate line, never a missed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuditEvent
from app.principal import Principal
from app.services.audit import security_event
from app.services.errors import NotFound

_HOUR = timedelta(hours=1)
_WEEK = timedelta(days=7)


def refuse_read(who: Principal, what: str, address: str, message: str, now: datetime) -> NotFound:
    """Audit a patient's refused read of ``what`` (committed at once, so the 404 that
    follows does not roll it back), and alert on abnormal volume.

    :returns: the NotFound to raise.
    """
    who_fields = dict(clinic_id=who.clinic_id, user_id=who.id, name=who.name)
    security_event("refused", address, f"patient asked for {what}", **who_fields)
    db.session.commit()
    count = _count(who, "refused", now - _HOUR)
    if count > current_app.config["SCLERO_REFUSAL_ALERT_LIMIT"]:
        if _count(who, "refusals_alert", now - _HOUR) == 0:
            security_event(
                "refusals_alert",
                address,
                f"{count} refused reads in an hour: records that are not theirs",
                **who_fields,
            )
            db.session.commit()
    return NotFound(message)


def _count(who: Principal, action: str, since: datetime) -> int:
    # clinic_id and created_at first: the (clinic_id, created_at) index narrows it.
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.clinic_id == who.clinic_id,
            AuditEvent.created_at >= since,
            AuditEvent.actor_id == who.id,
            AuditEvent.action == action,
        )
    )


@dataclass(frozen=True)
class RefusalAlerts:
    """What the staff page says about this week's alerts (``count`` 0: nothing)."""

    count: int
    most: int  # the most refused reads one alert counted
    accounts: int  # how many accounts raised them


def alerts_this_week(admin: Principal, now: datetime) -> RefusalAlerts:
    """This week's refused-read alerts in the admin's clinic (none for anyone else)."""
    if not admin.is_admin:
        return RefusalAlerts(0, 0, 0)
    rows = db.session.execute(
        sa.select(AuditEvent.actor_id, AuditEvent.detail).where(
            AuditEvent.clinic_id == admin.clinic_id,
            AuditEvent.created_at >= now - _WEEK,
            AuditEvent.action == "refusals_alert",
        )
    ).all()
    most = max((_leading_number(detail) for _, detail in rows), default=0)
    return RefusalAlerts(len(rows), most, len({actor for actor, _ in rows}))


def _leading_number(detail: str) -> int:
    head = detail.split(" ", 1)[0]
    return int(head) if head.isdigit() else 0
