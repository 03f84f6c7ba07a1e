"""The patient's Reminders page in two statements (issue 22 point 3: at most three on
every patient page, the sign-in check included).

The page shows the push devices, quiet hours, the reminder-email choice (and whether a
bounce paused it), the language, the calendar link and "Your data". Read one by one
that was five statements after the sign-in check; here the devices are one and
everything with at most one row per patient is the other: the email preference, the
newest bounced digest, the calendar link's date and the newest export, outer-joined to
the patient's row. Quiet hours and the language come with the sign-in check already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import CalendarLink
from app.models import EmailPreference
from app.models import ExportJob
from app.models import Patient
from app.models import PushSubscription
from app.principal import Principal
from app.services.errors import NotFound
from app.services.export import ExportStatus
from app.services.export.jobs import job_status as export_status  # the one expiry rule
from app.services.ical import CalendarStatus
from app.services.notify.email_prefs import choice_of
from app.services.notify.email_prefs import is_paused
from app.services.notify.email_prefs import last_bounce
from app.services.notify.subscriptions import ReminderSettings


@dataclass(frozen=True)
class RemindersPage:
    """Everything the Reminders page shows, as the separate services give it."""

    settings: ReminderSettings
    calendar: CalendarStatus
    export: ExportStatus | None


def reminders_page(user: Principal, now: datetime) -> RemindersPage:
    """The signed-in patient's Reminders page: devices, then the one-row parts."""
    if user.patient is None:
        raise NotFound("Not a patient account.")
    pid = user.patient.id
    devices = list(
        db.session.scalars(
            sa.select(PushSubscription)
            .where(PushSubscription.patient_id == pid)
            .order_by(PushSubscription.created_at)
        )
    )
    newest_export = (
        sa.select(sa.func.max(ExportJob.id))
        .where(ExportJob.patient_id == Patient.id)
        .correlate(Patient)
        .scalar_subquery()
    )
    pref, link_at, job, bounced_at = db.session.execute(
        sa.select(EmailPreference, CalendarLink.created_at, ExportJob, last_bounce(Patient.id))
        .select_from(Patient)
        .outerjoin(EmailPreference, EmailPreference.patient_id == Patient.id)
        .outerjoin(CalendarLink, CalendarLink.patient_id == Patient.id)
        .outerjoin(ExportJob, ExportJob.id == newest_export)
        .where(Patient.id == pid)
    ).one()
    settings = ReminderSettings(
        devices,
        user.patient.quiet_start,
        user.patient.quiet_end,
        current_app.extensions["sclero_push"]["public_key"],
        choice_of(pref),
        user.email,
        is_paused(bounced_at, pref.updated_at if pref is not None else None),
    )
    return RemindersPage(
        settings,
        CalendarStatus(link_at is not None, link_at),
        export_status(job, now) if job is not None else None,
    )
