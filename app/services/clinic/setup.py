"""Setting up a clinic from the command line: ``flask clinic create`` and ``clinic list``.

A new clinic starts with its first clinic admin, who has no password: they get a
one-time sign-in link (an invitation, app/services/accounts/invitations.py), choose a
password, and then run the clinic from its settings page.

A clinic cannot be set up without its main phone number and its emergency number: every
patient page shows both (the red-flag box, the check-in's emergency screen), and there
is no safe number to guess for a clinic in another country. The out-of-hours line is
optional here (the pages then tell a patient to call their local out-of-hours or urgent
care service when the clinic is closed) and can be set later on the settings page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Patient
from app.models import Role
from app.models import User
from app.services import accounts
from app.services.clinic.checks import check_timezone
from app.services.clinic.settings import check_clinic_name
from app.services.clinic.settings import check_email
from app.services.clinic.settings import check_emergency_number
from app.services.clinic.settings import check_out_of_hours
from app.services.clinic.settings import check_phone
from app.services.errors import Invalid

# Lower-case letters, digits and inner hyphens: it appears in commands and file names.
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
ADMIN_NAME_MAX = 120


@dataclass(frozen=True)
class NewClinic:
    """What ``flask clinic create`` was asked for, as typed."""

    name: str
    slug: str
    timezone: str
    admin_email: str
    phone: str
    emergency_number: str
    admin_name: str = ""
    out_of_hours_name: str = ""
    out_of_hours_phone: str = ""


@dataclass(frozen=True)
class ClinicCreated:
    """The clinic made, its first admin, and the admin's one-time sign-in token."""

    slug: str
    name: str
    admin_email: str
    invitation_token: str


def check_slug(text: str) -> str:
    """A clinic's short name for commands (``--clinic north``)."""
    text = (text or "").strip()
    if not _SLUG.match(text):
        raise Invalid(
            "slug",
            "Use 1 to 60 lower-case letters, digits and hyphens for the slug, "
            "starting and ending with a letter or digit, for example 'north-leeds'.",
        )
    return text


def create_clinic(new: NewClinic, now: datetime) -> ClinicCreated:
    """Create a clinic and its first clinic admin, and issue the admin's sign-in link.

    Every field is checked before anything is written; one commit.

    :raises Invalid: naming the option at fault: a taken slug, an unknown time zone, a
        malformed or already used email, a missing or malformed number.
    """
    name = check_clinic_name(new.name)
    slug = check_slug(new.slug)
    try:
        tz = check_timezone(new.timezone)
    except Invalid:
        raise Invalid(
            "timezone", f"'{new.timezone}' is not an IANA time zone; use one like Europe/London."
        ) from None
    email = check_email(new.admin_email, "admin_email")
    phone = check_phone(new.phone, "phone", required=True)
    emergency = check_emergency_number(new.emergency_number)
    ooh_name, ooh_phone = check_out_of_hours(new.out_of_hours_name, new.out_of_hours_phone)
    admin_name = " ".join((new.admin_name or "").split()) or email.split("@")[0]
    if len(admin_name) > ADMIN_NAME_MAX or not admin_name.isprintable():
        raise Invalid("admin_name", f"Keep the admin's name to {ADMIN_NAME_MAX} characters.")
    if db.session.scalar(sa.select(Clinic.id).where(Clinic.slug == slug)) is not None:
        raise Invalid("slug", f"The slug '{slug}' is taken by another clinic; choose another.")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Invalid("admin_email", f"There is already an account with the email {email}.")
    clinic = Clinic(
        slug=slug,
        name=name,
        phone=phone,
        emergency_number=emergency,
        timezone=tz.key,
        out_of_hours_name=ooh_name,
        out_of_hours_phone=ooh_phone,
    )
    admin = User(email=email, name=admin_name, role=Role.CLINIC_ADMIN, clinic=clinic)
    db.session.add_all([clinic, admin])
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        # Another `flask clinic create` took the slug or the email after the checks
        # above: the unique indexes decide, and this one says which, as above.
        db.session.rollback()
        if db.session.scalar(sa.select(Clinic.id).where(Clinic.slug == slug)) is not None:
            raise Invalid(
                "slug", f"The slug '{slug}' is taken by another clinic; choose another."
            ) from exc
        raise Invalid(
            "admin_email", f"There is already an account with the email {email}."
        ) from exc
    token = accounts.issue_invitation(admin, None, now)
    # The audit writer takes a signed-in Principal; there is none on the command line, so
    # the event names it as the actor, as `flask protocols sign-off` does.
    db.session.add(
        AuditEvent(
            clinic_id=clinic.id,
            actor_id=None,
            actor_name="command line",
            action="create",
            detail=f"clinic {slug} created; first admin {email} invited",
            address="command line",
            created_at=now,
        )
    )
    db.session.commit()
    return ClinicCreated(slug, name, email, token)


@dataclass(frozen=True)
class ClinicSummary:
    """One line of ``flask clinic list``."""

    slug: str
    name: str
    timezone: str
    staff: int
    patients: int


def list_clinics() -> list[ClinicSummary]:
    """Every clinic with how many staff and patients it has, by slug (two statements)."""
    staff = (
        sa.select(sa.func.count(User.id))
        .where(User.clinic_id == Clinic.id, User.role != Role.PATIENT)
        .scalar_subquery()
    )
    patients = (
        sa.select(sa.func.count(Patient.id)).where(Patient.clinic_id == Clinic.id).scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Clinic.slug, Clinic.name, Clinic.timezone, staff, patients).order_by(Clinic.slug)
    ).all()
    return [ClinicSummary(*row) for row in rows]
