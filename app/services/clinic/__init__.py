"""Clinician use-cases: patients, appointments, recording treatments, invitations.

Every query is scoped to the clinician's own clinic, so another clinic's patient is
simply "not found" (404), never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo
from zoneinfo import available_timezones

import sqlalchemy as sa

from app.domain.localtime import NoSuchLocalTime
from app.domain.localtime import local_to_utc
from app.domain.protocol import ChecklistItem
from app.extensions import db
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import Principal
from app.security import normalise_email
from app.services import accounts
from app.services.audit import audit
from app.services.audit import audit_views
from app.services.audit import own_patient
from app.services.audit import refuse
from app.services.care import followup
from app.services.clinic.settings import check_phone
from app.services.errors import Invalid
from app.services.notify import enqueue
from app.services.protocols import protocol_by_version

PAGE_SIZE = 25
# How far back an appointment may be booked (the clinic entering today's patient late)
# and how far ahead; anything else is almost certainly a typo in the year.
APPOINTMENT_PAST = timedelta(days=1)
APPOINTMENT_FUTURE = timedelta(days=2 * 366)
TREATED_PAST = timedelta(days=366)
TREATED_FUTURE = timedelta(hours=1)
FORMS = ("liquid", "foam")
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


def _check_window(
    instant: datetime, now: datetime, past: timedelta, future: timedelta, field: str
) -> None:
    if instant < now - past:
        raise Invalid(field, "That date is too far in the past. Please check the year.")
    if instant > now + future:
        raise Invalid(field, "That date is too far in the future. Please check the year.")


def patient_for(clinician: Principal, patient_id: int, address: str, action: str) -> Patient:
    """A patient of the clinician's own clinic.

    :raises NotFound: for unknown ids and for other clinics' patients alike (audited).
    """
    return own_patient(clinician, patient_id, address, action)


def treatment_for(clinician: Principal, treatment_id: int, address: str, action: str) -> Treatment:
    """A treatment of one of the clinician's own patients, or NotFound (audited)."""
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or treatment.patient.clinic_id != clinician.clinic_id:
        raise refuse(clinician, address, f"{action} session #{treatment_id}", "No such session.")
    return treatment


def record_form(clinician: Principal, treatment_id: int, address: str) -> Treatment:
    """The session behind the record-treatment page; opening it is an audited view."""
    treatment = treatment_for(clinician, treatment_id, address, "record")
    audit(clinician, treatment.patient_id, "view", address, "record treatment form")
    db.session.commit()
    return treatment


def cancel_form(clinician: Principal, treatment_id: int, address: str) -> Treatment:
    """The session behind the cancel-confirmation page; opening it is an audited view."""
    treatment = treatment_for(clinician, treatment_id, address, "cancel")
    audit(clinician, treatment.patient_id, "view", address, "cancel appointment form")
    db.session.commit()
    return treatment


def _protocol_for(clinician: Principal, version_id: int | None) -> ProtocolVersion:
    # None: the form's id was missing or out of the database's range (db_int).
    version = db.session.get(ProtocolVersion, version_id) if version_id is not None else None
    if version is None or version.clinic_id != clinician.clinic_id:
        raise Invalid("protocol", "Choose one of your clinic's protocols.")
    return version


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
) -> NewPatient:
    """Create a patient with their first appointment and an invitation link."""
    tz = check_timezone(timezone)
    phone = check_phone(phone, "phone")
    email = normalise_email(email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Invalid("email", "There is already an account with this email.")
    version = _protocol_for(clinician, protocol_version_id)
    appointment = to_utc(appointment_local, tz, "appointment")
    _check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    user = User(email=email, name=name.strip(), role=Role.PATIENT, clinic_id=clinician.clinic_id)
    patient = Patient(user=user, clinic_id=clinician.clinic_id, timezone=tz.key, phone=phone)
    db.session.add_all([user, patient])
    treatment = Treatment(patient=patient, protocol_version=version, appointment_at=appointment)
    db.session.add(treatment)
    db.session.flush()
    token = accounts.issue_invitation(user, clinician, now)
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return NewPatient(patient, token)


def set_phone(clinician: Principal, patient_id: int, phone: str, address: str) -> Patient:
    """Record or change a patient's phone number, for call-backs (audited; blank clears).

    :raises Invalid: for something that is not a phone number (app/services/clinic_settings.py).
    """
    patient = patient_for(clinician, patient_id, address, "change the phone of")
    patient.phone = check_phone(phone, "phone")
    audit(clinician, patient.id, "change", address, "phone number")
    db.session.commit()
    return patient


def new_invitation(clinician: Principal, patient_id: int, now: datetime, address: str) -> str:
    """A fresh invitation link for a patient (the old one stops working)."""
    patient = patient_for(clinician, patient_id, address, "invite")
    token = accounts.issue_invitation(patient.user, clinician, now)
    db.session.commit()
    return token


def book_session(
    clinician: Principal,
    patient_id: int,
    appointment_local: datetime,
    protocol_version_id: int,
    now: datetime,
    address: str,
) -> Treatment:
    """Book another session of the course."""
    patient = patient_for(clinician, patient_id, address, "book a session for")
    tz = ZoneInfo(patient.timezone)
    version = _protocol_for(clinician, protocol_version_id)
    appointment = to_utc(appointment_local, tz, "appointment")
    _check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    treatment = Treatment(patient=patient, protocol_version=version, appointment_at=appointment)
    db.session.add(treatment)
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return treatment


def reschedule(
    clinician: Principal,
    treatment_id: int,
    appointment_local: datetime,
    now: datetime,
    address: str,
) -> Treatment:
    """Move a booked appointment; the checklist due times follow it."""
    treatment = treatment_for(clinician, treatment_id, address, "move")
    if treatment.status != TreatmentStatus.SCHEDULED:
        raise Invalid("appointment", "Only a booked appointment can be moved.")
    tz = ZoneInfo(treatment.patient.timezone)
    appointment = to_utc(appointment_local, tz, "appointment")
    _check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    treatment.appointment_at = appointment
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return treatment


def cancel(clinician: Principal, treatment_id: int, now: datetime, address: str) -> Treatment:
    """Cancel a booked appointment (idempotent); its reminders are cancelled too."""
    treatment = treatment_for(clinician, treatment_id, address, "cancel")
    if treatment.status == TreatmentStatus.DONE:
        raise Invalid("status", "A treatment that has been recorded cannot be cancelled.")
    treatment.status = TreatmentStatus.CANCELLED
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return treatment


@dataclass(frozen=True)
class TreatmentRecord:
    """What was done in a session, as the clinician enters it."""

    treated_local: datetime
    sclerosant: str
    form: str
    concentration: str
    areas: str
    compression: str
    # The clinician ticked "done before this treatment" for the clinic's own tasks.
    checks_confirmed: bool = False


def clinic_tasks(treatment: Treatment) -> tuple[ChecklistItem, ...]:
    """The clinic's own checklist items (by = "clinic") of a session's protocol."""
    protocol = protocol_by_version(treatment.protocol_version_id, treatment.protocol_version.sha256)
    return tuple(item for item in protocol.checklist if item.by == "clinic")


def record_treatment(
    clinician: Principal, treatment_id: int, record: TreatmentRecord, now: datetime, address: str
) -> Treatment:
    """Record that a booked session happened; aftercare day 0 starts from it.

    Recording again corrects the details (same row), so a double submit is harmless.
    When the protocol has clinic tasks (a duplex scan, the consultation), the clinician
    must confirm they were done; the first confirmation (which tasks, who, when) is kept
    on the treatment and audited (issue 14 point 10).
    """
    treatment = treatment_for(clinician, treatment_id, address, "record")
    if treatment.status == TreatmentStatus.CANCELLED:
        raise Invalid("status", "This appointment was cancelled. Book a new session instead.")
    if record.form not in FORMS:
        raise Invalid("form", "Choose liquid or foam.")
    tasks = clinic_tasks(treatment)
    if tasks and not record.checks_confirmed:
        names = "; ".join(item.title for item in tasks)
        raise Invalid(
            "checks_done",
            f"Confirm that these were done before recording the treatment: {names}.",
        )
    tz = ZoneInfo(treatment.patient.timezone)
    treated = to_utc(record.treated_local, tz, "treated_at")
    _check_window(treated, now, TREATED_PAST, TREATED_FUTURE, "treated_at")
    treatment.treated_at = treated
    treatment.status = TreatmentStatus.DONE
    treatment.sclerosant = record.sclerosant.strip()
    treatment.form = record.form
    treatment.concentration = record.concentration.strip()
    treatment.areas = record.areas.strip()
    treatment.compression = record.compression.strip()
    if tasks and treatment.checks_confirmed_at is None:
        keys = " ".join(item.key for item in tasks)
        treatment.checks_confirmed = keys
        treatment.checks_confirmed_at, treatment.checks_confirmed_by_id = now, clinician.id
        audit(
            clinician,
            treatment.patient_id,
            "confirm",
            address,
            f"clinic tasks done before session #{treatment.id}: {keys}",
        )
    followup.note_treatment(treatment)
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return treatment


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


def list_patients(clinician: Principal, query: str, page: int, address: str) -> PatientPage:
    """The clinic's patients, searchable by name or email, a page at a time.

    The list shows names and emails, so each patient on it gets a "view" audit event.
    Four statements whatever the clinic size: count, page, the page's sessions, and one
    insert of the audit events.
    """
    base = sa.select(Patient).join(Patient.user).where(Patient.clinic_id == clinician.clinic_id)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        base = base.where(sa.or_(sa.func.lower(User.name).like(like), User.email.like(like)))
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


def treatments_of(patient: Patient) -> list[Treatment]:
    """All sessions of a patient's course, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Treatment)
            .where(Treatment.patient_id == patient.id)
            .order_by(Treatment.appointment_at)
        )
    )
