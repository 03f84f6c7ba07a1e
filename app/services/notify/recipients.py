"""Who a claimed outbox row goes to: the recipient's devices (``Device``) and, for a
patient, their zone and quiet hours for the send-time check and their choice about
reminder emails and their language (``PatientQuiet``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.adapters.push import SubscriptionInfo
from app.domain.reminders import QuietHours
from app.extensions import db
from app.i18n import DEFAULT_LOCALE
from app.i18n import locale_for
from app.models import Clinic
from app.models import EmailPreference
from app.models import Patient
from app.models import PushSubscription
from app.services.notify.email_prefs import is_paused
from app.services.notify.email_prefs import last_bounce
from app.services.notify.outbox import ClaimedMessage


@dataclass(frozen=True, slots=True)
class Device:
    """One stored push subscription, as sending needs it."""

    id: int
    info: SubscriptionInfo


@dataclass(frozen=True, slots=True)
class PatientQuiet:
    """A patient's zone and quiet hours, for the send-time check, and whether they have
    been discharged since the row was claimed (then nothing more is sent to them)."""

    tz: ZoneInfo
    quiet: QuietHours
    # Reminder emails: "auto" (when no device has push), "email" (instead) or "off"
    # (app.services.notify.email_prefs).
    email: str = "auto"
    discharged: bool = False
    # The locale their pushes and emails are written in (app/i18n.py:locale_for).
    locale: str = DEFAULT_LOCALE


def recipient_of(row: ClaimedMessage) -> tuple[str, int]:
    """A clinic alert goes to a clinician's devices; everything else to the patient's."""
    if row.recipient_user_id is not None:
        return ("user", row.recipient_user_id)
    return ("patient", row.patient_id)


def recipients_of(
    rows: list[ClaimedMessage],
) -> tuple[dict[tuple[str, int], list[Device]], dict[int, PatientQuiet]]:
    """The devices of every recipient in the batch (one query, columns not objects) and
    the patients' zones, quiet hours and email choices (one more)."""
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
    quiet: dict[int, PatientQuiet] = {}
    if patients:
        zones = db.session.execute(
            sa.select(
                Patient.id,
                Patient.timezone,
                Patient.quiet_start,
                Patient.quiet_end,
                EmailPreference.reminders_by_email,
                EmailPreference.unsubscribed_at,
                Patient.discharged_at,
                EmailPreference.updated_at,
                # A hard bounce of a digest pauses reminder emails (email_prefs).
                last_bounce(Patient.id),
                Patient.language,
                Clinic.locale,
            )
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .outerjoin(EmailPreference, EmailPreference.patient_id == Patient.id)
            .where(Patient.id.in_(sorted(patients)))
        )
        for (
            patient_id,
            zone,
            start,
            end,
            by_email,
            unsubscribed,
            discharged_at,
            changed_at,
            bounced_at,
            language,
            clinic_locale,
        ) in zones:
            choice = "off" if unsubscribed else ("email" if by_email else "auto")
            if is_paused(bounced_at, changed_at):
                choice = "off"
            quiet[patient_id] = PatientQuiet(
                ZoneInfo(zone),
                QuietHours(start, end),
                email=choice,
                discharged=discharged_at is not None,
                locale=locale_for(language or "", clinic_locale),
            )
    return found, quiet
