"""Checks shared by the patient and session use-cases of the clinic: the time zone, a
wall-clock time turned into UTC, how far back or ahead a date may be, and the protocol
chosen from the clinic's own list (and signed off).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo
from zoneinfo import available_timezones

import sqlalchemy as sa

from app.domain.localtime import NoSuchLocalTime
from app.domain.localtime import local_to_utc
from app.extensions import db
from app.i18n import _
from app.i18n import ngettext
from app.models import ProtocolVersion
from app.models import Treatment
from app.principal import Principal
from app.services.errors import Invalid

# How far back an appointment may be booked (the clinic entering today's patient late)
# and how far ahead; anything else is almost certainly a typo (the message says which).
APPOINTMENT_PAST = timedelta(days=1)
APPOINTMENT_FUTURE = timedelta(days=2 * 366)
TREATED_PAST = timedelta(days=366)
TREATED_FUTURE = timedelta(hours=1)
_ZONES = frozenset(available_timezones())


def check_timezone(name: str) -> ZoneInfo:
    """A valid IANA zone name, or an error naming the field."""
    if name not in _ZONES:
        raise Invalid("timezone", "Choose a time zone from the list, such as Europe/London.")
    return ZoneInfo(name)


def to_utc(local: datetime, tz: ZoneInfo, field: str) -> datetime:
    """A wall-clock time in the patient's zone as an aware UTC instant, or an error
    naming the field for a time skipped when the clocks go forward."""
    try:
        return local_to_utc(local, tz)
    except NoSuchLocalTime as exc:
        raise Invalid(field, str(exc)) from exc


def check_window(
    instant: datetime, now: datetime, past: timedelta, future: timedelta, field: str
) -> None:
    """Refuse an instant more than ``past`` before or ``future`` after ``now``, saying
    which way it is wrong and by how much (issue 19 point 2: "please check the year"
    was said of any date, and read as a complaint about the year)."""
    if instant < now - past:
        raise Invalid(field, _too_early(past))
    if instant > now + future:
        raise Invalid(field, _too_late(future))


def _span(span: timedelta) -> str:
    """A window's length in words: years when it is one or more, else days."""
    years = span.days // 365
    if years >= 1:
        return ngettext("%(num)d year", "%(num)d years", years)
    return ngettext("%(num)d day", "%(num)d days", span.days)


def _too_early(past: timedelta) -> str:
    if past <= timedelta(days=1):
        # An appointment may be entered a day late (today's patient), no earlier.
        return _("That date is in the past. Enter today's date or a later one.")
    return _("That date is more than %(span)s ago.", span=_span(past))


def _too_late(future: timedelta) -> str:
    if future < timedelta(days=1):
        # A treatment is recorded once it has been given.
        return _("That time is in the future. Record a treatment once it has been done.")
    return _("That date is more than %(span)s ahead.", span=_span(future))


def clinic_protocol(
    clinician: Principal, version_id: int | None, patient_id: int | None = None
) -> ProtocolVersion:
    """A protocol version of the clinician's own clinic, or an error on the form field.

    It must be signed off, and be the newest signed-off version of its protocol, unless
    ``patient_id`` (booking another session) already has a session on it: patients keep
    the version they were treated on, new treatments get the one approved now.
    """
    # None: the form's id was missing or out of the database's range (db_int).
    version = db.session.get(ProtocolVersion, version_id) if version_id is not None else None
    if version is None or version.clinic_id != clinician.clinic_id:
        raise Invalid("protocol", "Choose one of your clinic's protocols.")
    # Clinical governance (issue 17 point 3): the forms offer only signed-off versions,
    # and an unsigned id posted by hand is refused here, for new patients and bookings.
    if version.signed_off_at is None:
        raise Invalid(
            "protocol",
            f"{version.name} version {version.version} has not been signed off yet, so it "
            "cannot be used for a new treatment. Choose a signed-off protocol, or ask a "
            "clinic admin to sign this version off on the Protocols page.",
        )
    newest = _newest_signed_off(version)
    if newest > version.version and not _patient_is_on(patient_id, version.id):
        raise Invalid(
            "protocol",
            f"{version.name} version {version.version} has been replaced by version "
            f"{newest}. Choose version {newest}: an older version is kept only for the "
            "patients already on it.",
        )
    return version


def _newest_signed_off(version: ProtocolVersion) -> int:
    return db.session.scalar(
        sa.select(sa.func.max(ProtocolVersion.version)).where(
            ProtocolVersion.clinic_id == version.clinic_id,
            ProtocolVersion.key == version.key,
            ProtocolVersion.signed_off_at.is_not(None),
        )
    )


def _patient_is_on(patient_id: int | None, version_id: int) -> bool:
    if patient_id is None:
        return False
    found = db.session.scalar(
        sa.select(Treatment.id)
        .where(Treatment.patient_id == patient_id, Treatment.protocol_version_id == version_id)
        .limit(1)
    )
    return found is not None
