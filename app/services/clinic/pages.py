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
from app.services import protocols
from app.services import review
from app.services.clinic.sessions import clinic_tasks
from app.services.clinic.sessions import record_form
from app.services.clinic.sessions import treatment_for


def protocol_choices(clinician: Principal) -> list[ProtocolVersion]:
    """The newest signed-off version of each of the clinic's protocols, by name: what
    the new-patient and booking forms offer (an unsigned version is never offered)."""
    return protocols.latest_for_clinic(clinician.clinic_id, signed_off=True)


@dataclass(frozen=True)
class PatientRecordPage:
    """The clinician's page for one patient, and the protocols its booking form offers."""

    record: review.PatientPage
    protocols: list[ProtocolVersion]


def patient_record_page(
    clinician: Principal, patient_id: int, address: str, now: datetime, page: int = 1
) -> PatientRecordPage:
    """The patient page (audited, 404 for another clinic's patient), then the choices."""
    record = review.patient_page(clinician, patient_id, address, now, page)
    return PatientRecordPage(record, _booking_choices(clinician, record.sessions))


def _booking_choices(clinician: Principal, sessions: list[Treatment]) -> list[ProtocolVersion]:
    """The booking form's protocols: the version of the patient's latest session first
    (the one a browser selects), even when a newer version has been signed off since,
    because patients keep their version; then the clinic's current ones."""
    choices = protocol_choices(clinician)
    if not sessions:
        return choices
    own = max(sessions, key=lambda t: t.appointment_at).protocol_version
    if own.signed_off_at is None:
        return choices
    return [own, *(v for v in choices if v.id != own.id)]


@dataclass(frozen=True)
class RecordPage:
    """The record-treatment page: the session, and the clinic's own tasks to confirm."""

    treatment: Treatment
    tasks: tuple[ChecklistItem, ...]


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
    return RecordPage(treatment, clinic_tasks(treatment))
