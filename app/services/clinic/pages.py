"""What the clinic's form pages show, each read in one call: the protocol choices, the
patient page with its booking form, and the record-treatment page.

The actions behind these forms (``patients``, ``sessions``) look up their own patient or
session, so a page is read here only to show it, or to show it again after an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.protocol import ChecklistItem
from app.models import ProtocolVersion
from app.models import Treatment
from app.principal import Principal
from app.services import outcomes
from app.services import protocols
from app.services import review
from app.services.clinic.booking import BookingDefaults
from app.services.clinic.booking import RecordDefaults
from app.services.clinic.booking import booking_choices
from app.services.clinic.booking import booking_defaults
from app.services.clinic.booking import record_defaults
from app.services.clinic.closure import ClosureStatus
from app.services.clinic.closure import record_closure
from app.services.clinic.recording import clinic_tasks
from app.services.clinic.sessions import record_form
from app.services.clinic.sessions import treatment_for
from app.services.clinic.sessions import treatments_of
from app.services.outcomes.scoring import SessionOutcome


def protocol_choices(clinician: Principal) -> list[ProtocolVersion]:
    """The newest signed-off version of each of the clinic's protocols, by name: what
    the new-patient and booking forms offer (an unsigned version is never offered)."""
    return protocols.latest_for_clinic(clinician.clinic_id, signed_off=True)


@dataclass(frozen=True)
class PatientRecordPage:
    """The clinician's page for one patient, the protocols its booking form offers and
    what that form starts with (the last protocol, a date in its interval window)."""

    record: review.PatientPage
    protocols: list[ProtocolVersion]
    booking: BookingDefaults
    # Each done session's rating, clearance score, complications and stocking wear
    # (issue 19 points 6 and 7), newest first.
    outcomes: list[SessionOutcome]
    # The patient's account closure, if they asked (issue 20 point 4): what is kept.
    closure: ClosureStatus | None = None


def patient_record_page(
    clinician: Principal, patient_id: int, address: str, now: datetime, page: int = 1
) -> PatientRecordPage:
    """The patient page (audited, 404 for another clinic's patient), then the choices."""
    record = review.patient_page(clinician, patient_id, address, now, page)
    choices = booking_choices(clinician, record.sessions)
    patient = record.diary.patient
    defaults = booking_defaults(clinician, patient, record.sessions, choices, now)
    done = outcomes.patient_outcomes(clinician, patient_id)
    return PatientRecordPage(record, choices, defaults, done, record_closure(clinician, patient.id))


@dataclass(frozen=True)
class RecordPage:
    """The record-treatment page: the session, and the clinic's own tasks to confirm."""

    treatment: Treatment
    tasks: tuple[ChecklistItem, ...]
    defaults: RecordDefaults  # the form's values when it is opened


def record_page(
    clinician: Principal, treatment_id: int, address: str, *, opening: bool
) -> RecordPage:
    """The record-treatment page of one of the clinic's sessions (404, audited, for any
    other).

    ``opening``: the page is being opened (GET), an audited view of the patient; shown
    again after a refused form, it is the same view, not audited twice.
    """
    if opening:
        treatment = record_form(clinician, treatment_id, address)
    else:
        treatment = treatment_for(clinician, treatment_id, address, "record")
    defaults = record_defaults(treatment, treatments_of(treatment.patient))
    return RecordPage(treatment, clinic_tasks(treatment), defaults)
