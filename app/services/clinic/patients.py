"""The clinic's patients: adding one, their phone and invitation link, and the list.

Every query is scoped to the clinician's own clinic, so another clinic's patient is
simply "not found" (404), never "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import Principal
from app.security import normalise_email
from app.services import accounts
from app.services.accounts.link_notice import tell_link_issued
from app.services.accounts.links import email_link
from app.services.audit import audit
from app.services.audit import audit_views
from app.services.audit import own_patient
from app.services.clinic import closure_steps
from app.services.clinic.checks import APPOINTMENT_FUTURE
from app.services.clinic.checks import APPOINTMENT_PAST
from app.services.clinic.checks import check_timezone
from app.services.clinic.checks import check_window
from app.services.clinic.checks import clinic_protocol
from app.services.clinic.checks import to_utc
from app.services.clinic.fresh_ids import fresh_ids
from app.services.clinic.settings import check_phone
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.notify import enqueue

PAGE_SIZE = 25
# The patient list's filter: in care (the default), discharged (archived), or both.
STATUSES = ("active", "discharged", "all")


def patient_for(clinician: Principal, patient_id: int, address: str, action: str) -> Patient:
    """A patient of the clinician's own clinic.

    :raises NotFound: for unknown ids and for other clinics' patients alike (audited).
    """
    return own_patient(clinician, patient_id, address, action)


@dataclass(frozen=True)
class NewPatient:
    """What the clinician hands over: the patient and a one-time invitation token."""

    patient: Patient
    invitation_token: str


def create_patient(
    clinician: Principal,
    *,
    name: str,
    email: str,
    timezone: str,
    appointment_local: datetime,
    protocol_version_id: int,
    now: datetime,
    phone: str = "",
    email_url: Callable[[str], str] | None = None,
    address: str = "",
) -> NewPatient:
    """Create a patient with their first appointment and an invitation link.

    With ``email_url`` (the full link for a token) the link is also emailed to them,
    through the outbox in the same transaction.
    """
    tz = check_timezone(timezone)
    phone = check_phone(phone, "phone")
    email = normalise_email(email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Invalid("email", "There is already an account with this email.")
    version = clinic_protocol(clinician, protocol_version_id)
    appointment = to_utc(appointment_local, tz, "appointment")
    check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    user = User(email=email, name=name.strip(), role=Role.PATIENT, clinic_id=clinician.clinic_id)
    clinic = db.session.get(Clinic, clinician.clinic_id)
    patient = Patient(
        user=user,
        clinic_id=clinician.clinic_id,
        timezone=tz.key,
        phone=phone,
        # The clinic's default quiet hours (its settings page); the patient can change them.
        quiet_start=clinic.default_quiet_start,
        quiet_end=clinic.default_quiet_end,
    )
    if (ids := fresh_ids(clinician.clinic_id)) is not None:
        user.id, patient.id = ids  # never an erased patient's (SQLite reuses the highest)
    db.session.add_all([user, patient])
    treatment = Treatment(patient=patient, protocol_version=version, appointment_at=appointment)
    db.session.add(treatment)
    db.session.flush()
    token = accounts.issue_invitation(user, clinician, now)
    if email_url is not None:
        email_link(user, "invite", email_url(token), now)
    audit(
        clinician,
        patient.id,
        "create patient",
        address,
        f"patient #{patient.id}, session #{treatment.id} on {appointment_local:%Y-%m-%d %H:%M}"
        f" ({tz.key}); sign-in link made" + (", emailed" if email_url is not None else ""),
    )
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return NewPatient(patient, token)


def set_phone(clinician: Principal, patient_id: int, phone: str, address: str) -> Patient:
    """Record or change a patient's phone number, for call-backs (audited; blank clears).

    :raises Invalid: for something that is not a phone number (app/services/clinic/settings.py).
    """
    patient = patient_for(clinician, patient_id, address, "change the phone of")
    patient.phone = check_phone(phone, "phone")
    audit(clinician, patient.id, "change", address, "phone number")
    db.session.commit()
    return patient


def new_invitation(
    clinician: Principal,
    patient_id: int,
    now: datetime,
    address: str,
    email_url: Callable[[str], str] | None = None,
) -> str:
    """A fresh sign-in link for a patient (the old one stops working); audited.

    Using the link sets a new password and ends the patient's sessions, so for an
    account that already has a password (the patient set one up) it is a clinic
    admin's decision, and the patient is told by email (issue 18 point 2). For a
    patient who never set a password (the first link was lost) any clinician may send
    it again: the clinic's normal set-up step.

    With ``email_url`` (the full link for a token) it is also emailed to the patient.

    :raises NotFound: for another clinic's patient, and for a clinician who is not an
        admin asking for a claimed account's link (audited as refused): as the staff
        pages, a role refusal is "no such page".
    :raises Invalid: ("closure") for a closed account (audited as refused).
    """
    patient = patient_for(clinician, patient_id, address, "invite")
    if closure_steps.is_closed(patient.id):
        # The link would be refused anyway (the account is inactive), but an email with
        # it would reach whatever address the account had: nothing is sent or made.
        audit(clinician, patient.id, "refused", address, "sign-in link for a closed account")
        db.session.commit()
        raise Invalid("closure", closure_steps.CLOSED_ACCOUNT)
    claimed = patient.user.password_hash is not None
    if claimed and not clinician.is_admin:
        audit(
            clinician,
            patient.id,
            "refused",
            address,
            "new sign-in link for an account with a password (clinic admins only)",
        )
        db.session.commit()
        raise NotFound("No such page.")
    purpose = "signin" if claimed else "invite"
    token = accounts.issue_invitation(patient.user, clinician, now)
    if email_url is not None:
        email_link(patient.user, purpose, email_url(token), now)
        audit(clinician, patient.id, "invitation emailed", address, f"to {patient.user.email}")
    if claimed:
        tell_link_issued(patient.user, now)
    what = "new sign-in link (replaces the password when used)" if claimed else "invitation again"
    audit(
        clinician,
        patient.id,
        "sign-in link",
        address,
        what + (", emailed" if email_url is not None else ", shown on screen"),
    )
    db.session.commit()
    return token


@dataclass(frozen=True)
class PatientRow:
    """One line of the clinic's patient list."""

    patient: Patient
    next_appointment: datetime | None
    last_treated: datetime | None


@dataclass(frozen=True)
class PatientPage:
    rows: list[PatientRow]
    page: int
    pages: int
    total: int


def list_patients(
    clinician: Principal, query: str, page: int, address: str, status: str = "active"
) -> PatientPage:
    """The clinic's patients, searchable by name or email, a page at a time.

    ``status`` (one of ``STATUSES``; anything else is "active"): discharged patients are
    archived, found only when asked for.

    The list shows names and emails, so each patient on it gets a "view" audit event.
    Four statements whatever the clinic size: count, page, the page's sessions, and one
    insert of the audit events.
    """
    base = sa.select(Patient).join(Patient.user).where(Patient.clinic_id == clinician.clinic_id)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        base = base.where(sa.or_(sa.func.lower(User.name).like(like), User.email.like(like)))
    if status == "discharged":
        base = base.where(Patient.discharged_at.is_not(None))
    elif status != "all":
        base = base.where(Patient.discharged_at.is_(None))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    patients = db.session.scalars(
        base.order_by(User.name, Patient.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    ids = [p.id for p in patients]
    sessions = db.session.execute(
        sa.select(
            Treatment.patient_id, Treatment.status, Treatment.appointment_at, Treatment.treated_at
        ).where(Treatment.patient_id.in_(ids), Treatment.status != TreatmentStatus.CANCELLED)
    ).all()
    rows = []
    for p in patients:
        mine = [s for s in sessions if s.patient_id == p.id]
        booked = [s.appointment_at for s in mine if s.status == TreatmentStatus.SCHEDULED]
        treated = [s.treated_at for s in mine if s.treated_at is not None]
        rows.append(PatientRow(p, min(booked, default=None), max(treated, default=None)))
    audit_views(clinician, ids, address, "patient list")
    db.session.commit()
    return PatientPage(rows, page, pages, total)
