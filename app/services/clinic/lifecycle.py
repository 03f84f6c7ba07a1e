"""A patient's lifecycle: editing their details, discharging and re-opening them, and the
access a discharged patient keeps (issue 17 point 4).

Every change is audited with what it was before and after. Every query is scoped to the
clinician's clinic: another clinic's patient is "not found" (404), never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.domain.discharge import Access
from app.domain.discharge import access
from app.domain.discharge import read_until
from app.extensions import db
from app.models import Alert
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Treatment
from app.models import User
from app.models.notification import OPEN_STATES
from app.principal import Principal
from app.security import EMAIL_MAX
from app.security import is_plain_email
from app.services import accounts
from app.services.accounts.language import check_language
from app.services.audit import audit
from app.services.clinic import closure_steps
from app.services.clinic import sessions
from app.services.clinic.checks import check_timezone
from app.services.clinic.patients import patient_for
from app.services.clinic.settings import check_phone
from app.services.errors import Invalid
from app.services.locking import lock_patient
from app.services.notify import email_prefs
from app.services.notify import enqueue

NAME_MAX = 120
REASON_MAX = 500
# Each value in an audit line is cut to this, so before and after both fit its 300 characters.
_AUDIT_VALUE = 130


class DetailsRefused(Invalid):
    """Some of the details break a rule: ``errors`` maps each such field to its message."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(field, message)
        self.errors = errors


class DetailsConflict(DetailsRefused):
    """Fields this form changed that someone else changed too since it was opened."""


@dataclass(frozen=True)
class Details:
    """What the edit form sends (as typed), and the stored values the form was opened
    with (``was``; None from a client that does not send them)."""

    name: str
    email: str
    phone: str
    timezone: str
    was: dict[str, str] | None = None
    # The patient's language ("" = the clinic's); None leaves it as it is (issue 19).
    language: str | None = None


def details_page(clinician: Principal, patient_id: int, address: str, *, opening: bool) -> Patient:
    """The edit page of a patient. It shows their details, so opening it is an audited
    view; shown again after a refused form, it is the same view, not audited twice."""
    patient = patient_for(clinician, patient_id, address, "edit")
    if opening:
        audit(clinician, patient.id, "view", address, "edit details page")
        db.session.commit()
    return patient


def _check_name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise Invalid("name", "Enter the patient's full name.")
    if len(name) > NAME_MAX:
        raise Invalid("name", f"Please keep the name under {NAME_MAX} characters.")
    return name


def _check_email(text: str, user_id: int) -> str:
    """A valid email that no other account uses (emails are sign-in names)."""
    email = (text or "").strip().lower()
    if not email:
        raise Invalid("email", "Enter the patient's email address.")
    if len(email) > EMAIL_MAX:
        raise Invalid("email", f"An email address is at most {EMAIL_MAX} characters.")
    if email == closure_steps.closed_email(user_id):
        # A closed account's own placeholder (".invalid" fails the format check): kept
        # as it is, so the clinic can still correct the name, phone or time zone.
        return email
    if not is_plain_email(email):
        raise Invalid("email", "Enter an email address like name@example.com.")
    taken = db.session.scalar(sa.select(User.id).where(User.email == email, User.id != user_id))
    if taken is not None:
        raise Invalid("email", "There is already an account with this email.")
    return email


def _shown(value: str) -> str:
    return value if len(value) <= _AUDIT_VALUE else value[: _AUDIT_VALUE - 1] + "…"


def _checked(details: Details, user_id: int) -> dict[str, str]:
    """The details as they would be stored.

    :raises DetailsRefused: naming every field that breaks a rule, all at once, so a
        form is not corrected one field per round.
    """
    checks = {
        "name": lambda: _check_name(details.name),
        "email": lambda: _check_email(details.email, user_id),
        "phone": lambda: check_phone(details.phone, "phone"),
        "timezone": lambda: check_timezone(details.timezone).key,
    }
    if details.language is not None:
        checks["language"] = lambda: check_language(details.language or "")
    new, errors = {}, {}
    for key, check in checks.items():
        try:
            new[key] = check()
        except Invalid as exc:
            errors[key] = exc.message
    if errors:
        raise DetailsRefused(errors)
    return new


def update_details(
    clinician: Principal, patient_id: int, details: Details, now: datetime, address: str
) -> list[str]:
    """Change a patient's name, email, phone and time zone; audited field by field with
    the value before and after. A new time zone re-plans every reminder, so each lands at
    the same wall-clock time in the new zone.

    :returns: the labels of the fields that changed (empty: nothing to save).
    :raises DetailsRefused: naming every field that breaks a rule; nothing is saved.
    :raises Invalid: ("email") when another account took the email meanwhile.
    """
    patient = patient_for(clinician, patient_id, address, "edit")
    user = patient.user
    new = _checked(details, user.id)
    # Two saves at once (two tabs, two clinicians): the second waits, then compares the
    # form with what the first saved (_merge), instead of both reading the same values.
    lock_patient(patient.id)
    db.session.refresh(patient)
    db.session.refresh(user)
    old = {
        "name": user.name,
        "email": user.email,
        "phone": patient.phone,
        "timezone": patient.timezone,
        "language": patient.language,
    }
    old = {k: v for k, v in old.items() if k in new}  # the language only when sent
    labels = {
        "name": "name",
        "email": "email",
        "phone": "phone number",
        "timezone": "time zone",
        "language": "language",
    }
    try:
        _merge(new, old, details.was)
    except DetailsConflict:
        db.session.rollback()  # let go of the lock: nothing was changed
        raise
    changed = [k for k in new if new[k] != old[k]]
    if not changed:
        db.session.rollback()  # let go of the lock
        return []
    if "email" in changed and closure_steps.is_closed(patient.id):
        # The email address went at closure: putting one back would contact someone
        # who asked not to be (issue 20 point 4). Name and phone stay correctable.
        db.session.rollback()
        _refused(clinician, patient.id, address, "new email address for a closed account")
        raise DetailsRefused({"email": closure_steps.CLOSED_ACCOUNT})
    user.name, user.email = new["name"], new["email"]
    patient.phone, patient.timezone = new["phone"], new["timezone"]
    patient.language = new.get("language", patient.language)
    try:
        # Written now, before the re-plan below reads the database (its autoflush would
        # raise the unique-email error outside this guard: a 500).
        db.session.flush()
    except IntegrityError:
        # Another account took the email between the check and the write (two tabs).
        db.session.rollback()
        raise Invalid("email", "There is already an account with this email.") from None
    for key in changed:
        detail = f"{labels[key]}: {_shown(old[key]) or '(none)'} → {_shown(new[key]) or '(none)'}"
        audit(clinician, patient.id, "change", address, detail)
    if "timezone" in changed:
        enqueue.replan_patient(patient.id, now)
    if "email" in changed:
        email_prefs.address_changed(patient.id, now)  # ends a pause after a bounce
    db.session.commit()
    return [labels[k] for k in changed]


def _merge(new: dict[str, str], stored: dict[str, str], was: dict[str, str] | None) -> None:
    """Two tabs (or two clinicians) editing one patient: a field someone else saved
    after this form was opened is kept when this form left it as it was, and is a
    question when this form changed it too; never silently undone.

    :raises DetailsConflict: naming each field both changed; the form then carries the
        new stored values, so saving again replaces them on purpose.
    """
    if was is None:
        return
    conflicts = {}
    for key, now_stored in stored.items():
        opened_with = was.get(key, now_stored)
        if opened_with == now_stored:
            continue  # nobody else changed it
        if new[key] == opened_with:
            new[key] = now_stored  # this form did not touch it: keep the other change
        elif new[key] != now_stored:
            shown = _shown(now_stored) or "(none)"
            conflicts[key] = (
                f"Someone changed this to “{shown}” while you were editing. Save again to "
                "replace it with what you typed."
            )
    if conflicts:
        raise DetailsConflict(conflicts)


@dataclass(frozen=True)
class DischargeView:
    """The discharge confirmation page: the patient and what blocks a discharge."""

    patient: Patient
    open_alerts: int
    booked: list[Treatment]  # cancelled by the discharge: listed so none is a surprise


def _open_alerts(patient_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Alert)
            .where(Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None))
        )
        or 0
    )


def discharge_page(
    clinician: Principal, patient_id: int, address: str, *, opening: bool
) -> DischargeView:
    """The discharge confirmation page (an audited view when opened, not when shown again
    after a refused form)."""
    patient = patient_for(clinician, patient_id, address, "discharge")
    if opening:
        audit(clinician, patient.id, "view", address, "discharge page")
        db.session.commit()
    return DischargeView(patient, _open_alerts(patient.id), sessions.booked(patient.id))


def discharge(
    clinician: Principal, patient_id: int, reason: str, now: datetime, address: str
) -> Patient:
    """Discharge a patient: every reminder and queued push to them is cancelled, nothing
    new is queued (app/services/notify/enqueue.py checks ``discharged_at``), they leave
    the dashboard, and they keep read-only access for ``SCLERO_DISCHARGE_READ``.

    Idempotent: discharging a discharged patient changes nothing (a double submit).

    Refused while an alert is unacknowledged. Alerts are only ever emergency or same-day
    warning signs, and the dashboard stops listing a discharged patient's work, so
    discharging over an open alert would hide a warning sign nobody has answered. The
    safe choice is to make the clinician acknowledge it first, with a note saying what
    was done: the decision is then explicit, named and kept in the record, rather than
    an alert closed as a side effect of paperwork.

    :raises Invalid: ("alerts") while an alert is open; ("reason") for a reason too long.
    """
    patient = patient_for(clinician, patient_id, address, "discharge")
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise Invalid("reason", f"Please keep the reason under {REASON_MAX} characters.")
    # Under the patient's lock, so a check-in being stored right now (and the alert it
    # may raise) is either counted here or sees the patient discharged.
    lock_patient(patient.id)
    db.session.refresh(patient)
    if patient.discharged_at is not None:
        return patient
    alerts = _open_alerts(patient.id)
    if alerts:
        db.session.rollback()  # let go of the lock: nothing was changed
        raise Invalid(
            "alerts",
            f"{patient.user.name} has {alerts} open alert{'s' if alerts > 1 else ''}. "
            "Acknowledge each alert with a note saying what was done before discharging.",
        )
    patient.discharged_at, patient.discharge_reason = now, reason
    cancelled = sessions.cancel_at_discharge(patient.id, patient.timezone)
    # Reminders, comment pushes: everything still queued for the patient (not the clinic's
    # own alert pushes, which are about the clinic's work).
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.patient_id == patient.id,
            OutboxMessage.recipient_user_id.is_(None),
            OutboxMessage.state.in_(OPEN_STATES),
        )
        .values(state=OutboxState.CANCELLED)
    )
    audit(
        clinician,
        patient.id,
        "discharge",
        address,
        f"reason: {reason or '(none given)'}" + (f"; cancelled {cancelled}" if cancelled else ""),
    )
    db.session.commit()
    return patient


def _refused(clinician: Principal, patient_id: int, address: str, what: str) -> None:
    """Audit a refused change to a closed account (its own transaction)."""
    audit(clinician, patient_id, "refused", address, what)
    db.session.commit()


def reopen(clinician: Principal, patient_id: int, now: datetime, address: str) -> Patient:
    """Re-open a discharged patient: full access again, and reminders planned afresh
    (those already too far past are not sent late). Idempotent.

    :raises Invalid: ("closure") for a closed account (audited as refused).
    """
    patient = patient_for(clinician, patient_id, address, "re-open")
    lock_patient(patient.id)
    db.session.refresh(patient)
    if patient.discharged_at is None:
        return patient
    if closure_steps.is_closed(patient.id):
        # In care again would plan reminders and bookings for an account nobody can
        # sign in to, and show the patient as active to the clinic.
        db.session.rollback()
        _refused(clinician, patient.id, address, "re-open a closed account")
        raise Invalid("closure", closure_steps.CLOSED_ACCOUNT)
    was = patient.discharged_at
    patient.discharged_at, patient.discharge_reason = None, ""
    enqueue.replan_patient(patient.id, now)
    audit(clinician, patient.id, "re-open", address, f"discharged {was:%Y-%m-%d %H:%M} UTC")
    db.session.commit()
    return patient


@dataclass(frozen=True)
class PatientAccess:
    """What the signed-in patient may do now, and until when they may read."""

    access: Access
    read_until: datetime | None


def patient_access(patient: Principal, now: datetime) -> PatientAccess:
    """The signed-in patient's access. Once the read period is over, the sign-in session
    is ended here, so the page that says so is the last one they see."""
    info = patient.patient
    discharged = info.discharged_at if info is not None else None
    read_for = current_app.config["SCLERO_DISCHARGE_READ"]
    state = access(discharged, now, read_for)
    if state == Access.ENDED:
        accounts.end_session(patient.session_token, now)
    until = read_until(discharged, read_for) if discharged is not None else None
    return PatientAccess(state, until)
