"""A patient's sessions as the clinic handles them: booking, moving and cancelling an
appointment (recording the treatment itself is in ``recording``).

Every session is reached through the clinician's own clinic, so another clinic's
session is simply "not found" (404), never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.localtime import happens_twice
from app.extensions import db
from app.i18n import _
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import refuse
from app.services.clinic import booking
from app.services.clinic.checks import APPOINTMENT_FUTURE
from app.services.clinic.checks import APPOINTMENT_PAST
from app.services.clinic.checks import check_window
from app.services.clinic.checks import clinic_protocol
from app.services.clinic.checks import to_utc
from app.services.clinic.patients import patient_for
from app.services.errors import Invalid
from app.services.locking import lock_patient
from app.services.notify import enqueue

FORMS = ("liquid", "foam")


class SessionUnchanged(Invalid):
    """A move or cancellation a rule refused; ``treatment`` is the session, left as it
    was, so the page can go back to its patient."""

    def __init__(self, treatment: Treatment, field: str, message: str):
        super().__init__(field, message)
        self.treatment = treatment


def local_time(at: datetime, timezone: str) -> str:
    """An instant as the patient's wall-clock time, for audit details."""
    return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Saved:
    """A session as a booking, move or record left it, and what the clinician should be
    told beside "saved" (the page flashes each note)."""

    treatment: Treatment
    notes: tuple[str, ...] = ()


def _with_clock_note(treatment: Treatment) -> Saved:
    note = repeated_time_note(treatment)
    return Saved(treatment, (note,) if note else ())


def repeated_time_note(treatment: Treatment) -> str | None:
    """A line for the clinician when the appointment's wall time happens twice that
    night (the clocks go back), saying which of the two it is booked at, else None.

    The form has one box for the time, read as the first occurrence
    (``app.domain.localtime``); without this the patient's reminders could run an
    hour from what the clinician had in mind, unnoticed.
    """
    tz = ZoneInfo(treatment.patient.timezone)
    at = treatment.appointment_at  # aware UTC on every backend (UTCDateTime)
    local = at.astimezone(tz)
    if local.fold or not happens_twice(at, tz):  # fold: the second one, never typed
        return None
    return _(
        "The clocks go back that night, so %(time)s happens twice. This session is at the"
        " first %(time)s (%(zone)s, before the change); the patient's reminders follow it.",
        time=f"{local:%H:%M}",
        zone=local.tzname() or tz.key,
    )


def treatment_for(clinician: Principal, treatment_id: int, address: str, action: str) -> Treatment:
    """A treatment of one of the clinician's own patients, or NotFound (audited)."""
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or treatment.patient.clinic_id != clinician.clinic_id:
        raise refuse(clinician, address, f"{action} session #{treatment_id}", "No such session.")
    return treatment


def locked(treatment: Treatment) -> Treatment:
    """The session re-read under its patient's write lock (app/services/locking.py).

    Two clinicians may record, move and cancel one session at once: without the lock,
    a cancel that read "booked" before a colleague's record committed wrote "cancelled"
    over a treatment given, and its aftercare stopped."""
    lock_patient(treatment.patient_id)
    db.session.refresh(treatment)
    return treatment


def treatments_of(patient: Patient) -> list[Treatment]:
    """All sessions of a patient's course, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Treatment)
            .where(Treatment.patient_id == patient.id)
            .order_by(Treatment.appointment_at)
        )
    )


def record_form(clinician: Principal, treatment_id: int, address: str) -> Treatment:
    """The session behind the record-treatment page; opening it is an audited view."""
    treatment = treatment_for(clinician, treatment_id, address, "record")
    audit(clinician, treatment.patient_id, "view", address, "record treatment form")
    db.session.commit()
    return treatment


def move_form(clinician: Principal, treatment_id: int, address: str) -> Treatment:
    """The session whose move was refused, its form shown again: an audited view."""
    treatment = treatment_for(clinician, treatment_id, address, "move")
    audit(clinician, treatment.patient_id, "view", address, "move appointment form")
    db.session.commit()
    return treatment


@dataclass(frozen=True)
class BookingPage:
    """The booking form on a page of its own (after a refused or warned booking)."""

    patient: Patient
    protocols: list[ProtocolVersion]
    defaults: booking.BookingDefaults


def booking_page(clinician: Principal, patient_id: int, address: str, now: datetime) -> BookingPage:
    """The patient (404, audited, for another clinic's) and their booking choices."""
    patient = patient_for(clinician, patient_id, address, "book a session for")
    sessions = treatments_of(patient)
    choices = booking.booking_choices(clinician, sessions)
    defaults = booking.booking_defaults(clinician, patient, sessions, choices, now)
    return BookingPage(patient, choices, defaults)


def cancel_form(clinician: Principal, treatment_id: int, address: str) -> Treatment:
    """The session behind the cancel-confirmation page; opening it is an audited view."""
    treatment = treatment_for(clinician, treatment_id, address, "cancel")
    audit(clinician, treatment.patient_id, "view", address, "cancel appointment form")
    db.session.commit()
    return treatment


def in_care(patient: Patient, field: str, doing: str) -> None:
    """Refuse a session for a discharged patient: they get no reminders and no check-ins
    (the course has ended), so its aftercare, red flags included, would go unasked."""
    if patient.discharged_at is not None:
        raise Invalid(
            field, f"This patient has been discharged. Re-open their record before {doing}."
        )


def book_session(
    clinician: Principal,
    patient_id: int,
    appointment_local: datetime,
    protocol_version_id: int,
    now: datetime,
    address: str,
    confirmed: bool = False,
) -> Saved:
    """Book another session of the course; the note says which 01:30 it is on the
    night the clocks go back.

    :param confirmed: the clinician confirmed a date inside the protocol's minimum
        interval of another session (the warning's tick).
    :raises Invalid: for a discharged patient (``in_care``): re-opened first.
    :raises booking.TooSoon: for a date inside the minimum interval, unless confirmed.
    """
    patient = patient_for(clinician, patient_id, address, "book a session for")
    # So the interval and double-submit checks see every booking that got in first.
    lock_patient(patient.id)
    db.session.refresh(patient)
    in_care(patient, "appointment", "booking a session")
    tz = ZoneInfo(patient.timezone)
    version = clinic_protocol(clinician, protocol_version_id, patient.id)
    appointment = to_utc(appointment_local, tz, "appointment")
    check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    sessions = treatments_of(patient)
    # A double submit (or a colleague's booking of that slot) books it once, unaudited.
    same = next(
        (
            t
            for t in sessions
            if t.status == TreatmentStatus.SCHEDULED
            and t.protocol_version_id == version.id
            and _same_instant(t.appointment_at, appointment)
        ),
        None,
    )
    if same is not None:
        db.session.commit()  # releases the lock; nothing was changed
        return _with_clock_note(same)
    if not confirmed:
        booking.check_interval(patient, version, appointment, sessions)
    treatment = Treatment(patient=patient, protocol_version=version, appointment_at=appointment)
    db.session.add(treatment)
    db.session.flush()  # the session's id, for the audit trail
    audit(
        clinician,
        patient.id,
        "book session",
        address,
        f"session #{treatment.id} on {local_time(appointment, patient.timezone)}"
        f" ({version.name} v{version.version})",
    )
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return _with_clock_note(treatment)


def _same_instant(stored: datetime, instant: datetime) -> bool:
    """Whether a stored instant (naive UTC on SQLite) is ``instant``."""
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=instant.tzinfo)
    return stored == instant


def reschedule(
    clinician: Principal,
    treatment_id: int,
    appointment_local: datetime,
    now: datetime,
    address: str,
    confirmed: bool = False,
) -> Saved:
    """Move a booked appointment; the checklist due times follow it (the note: which
    01:30, as when booking).

    :param confirmed: the clinician confirmed a date inside the protocol's minimum
        interval of another session (as when booking).
    :raises SessionUnchanged: for a session not booked, or a time it cannot move to;
        with the field ``confirm_soon`` for a date inside the minimum interval.
    """
    treatment = locked(treatment_for(clinician, treatment_id, address, "move"))
    try:
        appointment = _new_appointment(treatment, appointment_local, now)
        if not confirmed:
            sessions = treatments_of(treatment.patient)
            booking.check_interval(
                treatment.patient, treatment.protocol_version, appointment, sessions, treatment.id
            )
    except Invalid as exc:
        raise SessionUnchanged(treatment, exc.field, exc.message) from exc
    if _same_instant(treatment.appointment_at, appointment):
        db.session.commit()  # a double submit: moved already, nothing to write or audit
        return _with_clock_note(treatment)
    tz = treatment.patient.timezone
    audit(
        clinician,
        treatment.patient_id,
        "move session",
        address,
        f"moved session #{treatment.id} from {local_time(treatment.appointment_at, tz)}"
        f" to {local_time(appointment, tz)}",
    )
    treatment.appointment_at = appointment
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return _with_clock_note(treatment)


def _new_appointment(treatment: Treatment, appointment_local: datetime, now: datetime) -> datetime:
    """Where a booked session may move to, as a UTC instant (nothing changed yet)."""
    if treatment.status != TreatmentStatus.SCHEDULED:
        raise Invalid("appointment", "Only a booked appointment can be moved.")
    in_care(treatment.patient, "status", "moving a session")
    tz = ZoneInfo(treatment.patient.timezone)
    appointment = to_utc(appointment_local, tz, "appointment")
    check_window(appointment, now, APPOINTMENT_PAST, APPOINTMENT_FUTURE, "appointment")
    return appointment


def cancel(clinician: Principal, treatment_id: int, now: datetime, address: str) -> Treatment:
    """Cancel a booked appointment (idempotent); its reminders are cancelled too.

    :raises SessionUnchanged: for a treatment already recorded.
    """
    treatment = locked(treatment_for(clinician, treatment_id, address, "cancel"))
    if treatment.status == TreatmentStatus.DONE:
        raise SessionUnchanged(
            treatment, "status", "A treatment that has been recorded cannot be cancelled."
        )
    if treatment.status != TreatmentStatus.CANCELLED:
        # A second cancel changes nothing, so it records nothing.
        audit(
            clinician,
            treatment.patient_id,
            "cancel session",
            address,
            f"session #{treatment.id} booked for "
            f"{local_time(treatment.appointment_at, treatment.patient.timezone)}",
        )
    treatment.status = TreatmentStatus.CANCELLED
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    return treatment


def booked(patient_id: int) -> list[Treatment]:
    """The patient's sessions still booked (not recorded, not cancelled), oldest first."""
    return list(
        db.session.scalars(
            sa.select(Treatment)
            .where(
                Treatment.patient_id == patient_id,
                Treatment.status == TreatmentStatus.SCHEDULED,
            )
            .order_by(Treatment.appointment_at)
        )
    )


def cancel_at_discharge(patient_id: int, timezone: str) -> str:
    """Cancel every session still booked for a patient being discharged; the words for
    the discharge's audit event ("" when there was none).

    A discharged patient was told both "your course has ended" and "your treatment is
    Sun 20 Dec", and the session stayed booked on the clinic's page while the calendar
    feed dropped it from their phone (found by an adversarial test, issue 20). Discharge
    ends the course, so what it still had booked is cancelled with it; the confirmation
    page lists these sessions first, so a session that did happen can be recorded.
    """
    sessions = booked(patient_id)
    for treatment in sessions:
        treatment.status = TreatmentStatus.CANCELLED
    return ", ".join(
        f"session #{t.id} booked for {local_time(t.appointment_at, timezone)}" for t in sessions
    )
