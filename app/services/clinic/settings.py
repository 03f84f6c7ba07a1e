"""A clinic's contact settings: opening hours, the out-of-hours route, phone numbers.

Setting hours is an admin action (``flask clinic set-hours``, or the clinic settings
page of app/services/clinic/profile.py). Reading them for a page is ``contact_route``:
whom a patient with a same-day problem should call first, right now
(app/domain/hours.py). The field checks shared by set-up and the settings page
(``check_phone``, ``check_emergency_number``, ``check_clinic_name``, ``check_email``)
live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.clock import now
from app.domain import hours as hours_domain
from app.extensions import db
from app.i18n import CLINIC_LOCALES
from app.models import AuditEvent
from app.models import Clinic
from app.principal import ClinicInfo
from app.security import EMAIL_MAX
from app.security import is_plain_email
from app.services.errors import Invalid
from app.services.errors import NotFound

# Digits, spaces, + ( ) - and dots; 3 to 20 digits (111 and 999 are real numbers,
# E.164 allows 15 digits, an extension a few more). ASCII digits only, never \d: that
# matches "１１２" and "١١٢" too, and a tel: link must carry ASCII (RFC 3966). Digits
# typed in another script are written in ASCII first (hours_domain.ascii_digits).
_PHONE = re.compile(r"^\+?[0-9 ().-]+$")
PHONE_MAX = 40
# Emergency numbers are short codes: 999, 112, 911, 000, 119.
_EMERGENCY = re.compile(r"^[0-9]{2,6}$")
NAME_MAX = 200


def check_phone(text: str, field: str, required: bool = False) -> str:
    """A phone number as typed (trimmed), checked loosely; "" when blank and allowed.

    :raises Invalid: naming ``field``, with what is allowed.
    """
    # "０１６３２ ９６０ ０００" from a full-width keyboard is stored as 01632 960 000.
    text = " ".join(hours_domain.ascii_digits(text or "").split())
    if not text:
        if required:
            raise Invalid(field, "Enter a phone number.")
        return ""
    digits = sum(ch in "0123456789" for ch in text)
    if len(text) > PHONE_MAX or not _PHONE.match(text) or not 3 <= digits <= 20:
        raise Invalid(
            field,
            "Enter a phone number using digits, spaces, +, - and brackets only, "
            "for example 01632 960 000 or +44 1632 960000.",
        )
    return text


def check_emergency_number(text: str, field: str = "emergency_number") -> str:
    """The emergency number patients are told to call, e.g. 999; required.

    :raises Invalid: naming ``field``.
    """
    # "１１２" from a full-width keyboard is stored as 112: the call button dials it.
    text = "".join(hours_domain.ascii_digits(text or "").split())
    if not text:
        raise Invalid(
            field, "Enter the emergency number, for example 999 in the UK or 112 in the EU."
        )
    if not _EMERGENCY.match(text):
        raise Invalid(field, "Enter the emergency number as 2 to 6 digits, for example 999 or 112.")
    return text


def check_clinic_name(text: str, field: str = "name") -> str:
    """The clinic's name as patients see it (trimmed, inner spaces folded); required."""
    text = " ".join((text or "").split())
    if not text:
        raise Invalid(field, "Enter the clinic's name.")
    if len(text) > NAME_MAX:
        raise Invalid(field, f"Keep the clinic's name to {NAME_MAX} characters or fewer.")
    if not text.isprintable():
        raise Invalid(field, "Use letters, numbers and punctuation only.")
    return text


def check_email(text: str, field: str = "email", required: bool = True) -> str:
    """An email address, lower-cased and trimmed; "" when blank and allowed
    (``app.security.is_plain_email`` says which forms are accepted)."""
    text = (text or "").strip()
    if not text:
        if required:
            raise Invalid(field, "Enter an email address.")
        return ""
    if len(text) > EMAIL_MAX or not text.isprintable() or not is_plain_email(text):
        raise Invalid(field, "Enter a real email address, like name@example.com.")
    return text.lower()


def check_locale(code: str, field: str = "locale") -> str:
    """One of the clinic locales the app offers (app/i18n.py:CLINIC_LOCALES)."""
    code = (code or "").strip()
    if code not in CLINIC_LOCALES:
        raise Invalid(field, "Choose one of the listed languages and date styles.")
    return code


# Per process, and safe with several app servers: keyed by the stored hours text itself,
# so hours changed on another instance are a new key here (stateless-app-servers.md).
@lru_cache(maxsize=256)
def _parsed(spec: str) -> hours_domain.OpeningHours:
    try:
        return hours_domain.parse_hours(spec)
    except hours_domain.HoursError:
        # Stored hours are checked on the way in; if one ever cannot be read, the safe
        # reading is "closed", which puts the out-of-hours route first.
        return hours_domain.OpeningHours()


def contact_route(clinic: ClinicInfo | Clinic, now: datetime) -> hours_domain.ContactRoute:
    """The call buttons for same-day advice at ``now``, in order (see app/domain/hours.py)."""
    own = hours_domain.Call(clinic.name, clinic.phone, hours_domain.dialable(clinic.phone))
    out_of_hours = None
    if clinic.out_of_hours_phone:
        out_of_hours = hours_domain.Call(
            clinic.out_of_hours_name or "the out-of-hours line",
            clinic.out_of_hours_phone,
            hours_domain.dialable(clinic.out_of_hours_phone),
        )
    return hours_domain.same_day_route(
        _parsed(clinic.hours or ""), ZoneInfo(clinic.timezone), now, own, out_of_hours
    )


@dataclass(frozen=True)
class HoursSet:
    """What was stored, for the command's confirmation."""

    summary: str
    out_of_hours: str


def set_hours(slug: str, spec: str, out_of_hours_name: str, out_of_hours_phone: str) -> HoursSet:
    """Store a clinic's weekly hours and out-of-hours route (``flask clinic set-hours``).

    :raises NotFound: for an unknown clinic.
    :raises Invalid: for hours that cannot be read or a bad number, naming the field.
    """
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == slug))
    if clinic is None:
        raise NotFound(f"No clinic with the slug '{slug}'.")
    was = clinic.opening_hours or "never open", clinic.out_of_hours_name or "none"
    stored = _store(clinic, spec, out_of_hours_name, out_of_hours_phone)
    # Patients are told whom to call from these (issue 18 point 1: every staff write is
    # accountable). The command line has no signed-in Principal, so the event names it
    # as the actor, as `flask clinic create` does.
    db.session.add(
        AuditEvent(
            clinic_id=clinic.id,
            actor_id=None,
            actor_name="command line",
            patient_id=None,
            action="change",
            detail=f"opening hours: {was[0]} -> {stored.summary}; out-of-hours line: "
            f"{was[1]} -> {stored.out_of_hours}",
            address="command line",
            created_at=now(),
        )
    )
    db.session.commit()
    return stored


def summarise(parsed: hours_domain.OpeningHours) -> str:
    """The canonical text of parsed hours, which is both stored and shown to patients.

    :raises Invalid: when it would not fit the clinic's columns.
    """
    summary = hours_domain.format_hours(parsed)
    if len(summary) > 200:
        raise Invalid("hours", "These hours are too long to summarise; join days that share times.")
    return summary


def check_out_of_hours(name: str, phone: str) -> tuple[str, str]:
    """The out-of-hours line as (name, number): both, or neither (then a closed clinic's
    pages tell patients to call their local out-of-hours or urgent care service)."""
    phone = check_phone(phone, "out_of_hours_phone")
    name = " ".join((name or "").split())
    if phone and not name:
        raise Invalid("out_of_hours_name", "Name the out-of-hours line, for example 'NHS 111'.")
    if name and not phone:
        raise Invalid("out_of_hours_phone", "Give the out-of-hours line's number too.")
    if name:
        _check_line_name(name)
    return name, phone


def _check_line_name(name: str) -> None:
    """The out-of-hours line's name: at most 80 characters, all printable (the command
    line passes NUL, which PostgreSQL cannot store, and direction overrides through)."""
    if len(name) > 80:
        raise Invalid("out_of_hours_name", "Keep the out-of-hours name under 80 characters.")
    if not name.isprintable():
        raise Invalid(
            "out_of_hours_name",
            "Use letters, numbers and punctuation only in the out-of-hours name.",
        )


def _store(clinic: Clinic, spec: str, out_of_hours_name: str, out_of_hours_phone: str) -> HoursSet:
    """Check and set hours, summary and out-of-hours route on ``clinic`` (not committed).

    An out-of-hours number is required: without one a closed clinic's same-day advice
    has no number to put first.
    """
    try:
        parsed = hours_domain.parse_hours(spec)
    except hours_domain.HoursError as exc:
        raise Invalid("hours", str(exc)) from None
    phone = check_phone(out_of_hours_phone, "out_of_hours_phone", required=True)
    name = " ".join((out_of_hours_name or "").split())
    if not name:
        raise Invalid("out_of_hours_name", "Name the out-of-hours line, for example 'NHS 111'.")
    _check_line_name(name)
    summary = summarise(parsed)
    clinic.hours = summary  # the canonical form, which parse_hours reads back the same
    clinic.opening_hours = summary
    clinic.out_of_hours_name = name
    clinic.out_of_hours_phone = phone
    return HoursSet(summary or "never open (no hours)", f"{name}: {phone}")
