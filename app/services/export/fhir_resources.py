"""One FHIR R4 resource per row of a patient's record (issue 20 point 2), as plain dicts.

``app/services/export/fhir.py`` loads the rows and assembles the Bundle; the codes, ids
and the check-in's items come from ``app/domain/fhir.py``. Each function here maps one
row and names every other resource it points to by ``fhir.ref``, so a reference always
resolves to an entry the bundle holds (the loader adds every Practitioner referred to).
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from app.domain import fhir
from app.domain.protocol.model import Protocol
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User

# Treatment status -> Procedure.status (R4 EventStatus): a booked session has not
# happened yet ("preparation"), a cancelled one never will ("not-done").
PROCEDURE_STATUS = {
    TreatmentStatus.DONE: "completed",
    TreatmentStatus.SCHEDULED: "preparation",
    TreatmentStatus.CANCELLED: "not-done",
}
SCLEROTHERAPY = fhir.local("sclerotherapy", "Sclerotherapy of leg veins")


def instant(value: datetime) -> str:
    """A FHIR dateTime/instant: the stored UTC instant with its offset, to the second.
    FHIR requires an offset on a time; a naive value (an old history entry) is UTC, as
    every stored instant is (app/dbtypes.py)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.replace(microsecond=0).isoformat()


def day(value: date) -> str:
    return value.isoformat()


def patient(row: Patient, clinic: Clinic) -> dict[str, object]:
    """The patient: name as one text (the app keeps one name field, never split), their
    contact details, language, and the clinic as managing organisation."""
    out: dict[str, object] = {
        "resourceType": "Patient",
        "identifier": [fhir.identifier("Patient", row.id)],
        "active": row.discharged_at is None and row.user.is_active,
        "name": [{"text": row.user.name}],
        "managingOrganization": fhir.ref("Organization", clinic.id, clinic.name),
    }
    telecom = [{"system": "email", "value": row.user.email}]
    if row.phone:
        telecom.append({"system": "phone", "value": row.phone})
    out["telecom"] = telecom
    if row.language:
        language = fhir.concept(fhir.LANGUAGE, row.language, row.language)
        out["communication"] = [{"language": language, "preferred": True}]
    return out


def organization(clinic: Clinic) -> dict[str, object]:
    out: dict[str, object] = {
        "resourceType": "Organization",
        "identifier": [fhir.identifier("Organization", clinic.slug)],
        "active": True,
        "name": clinic.name,
    }
    if clinic.phone:
        out["telecom"] = [{"system": "phone", "value": clinic.phone}]
    return out


def practitioner(user: User) -> dict[str, object]:
    """Staff who acted on the record; only their name (their email is for sign-in)."""
    return {
        "resourceType": "Practitioner",
        "identifier": [fhir.identifier("Practitioner", user.id)],
        "active": user.is_active,
        "name": [{"text": user.name}],
    }


def procedure(row: Treatment, patient_id: int, clinic: Clinic) -> dict[str, object]:
    """A session: status, when, where on the legs, the sclerosant (``usedCode``: the
    product as the clinic wrote it, with form and strength), the compression advised."""
    out: dict[str, object] = {
        "resourceType": "Procedure",
        "identifier": [fhir.identifier("Procedure", row.id)],
        "status": PROCEDURE_STATUS.get(row.status, "unknown"),
        "code": SCLEROTHERAPY,
        "subject": fhir.ref("Patient", patient_id),
        "performer": [{"actor": fhir.ref("Organization", clinic.id, clinic.name)}],
    }
    if row.checks_confirmed_by_id is not None:
        # The clinician who recorded the session (and confirmed the clinic's checks).
        out["recorder"] = fhir.ref("Practitioner", row.checks_confirmed_by_id)
    if row.status is TreatmentStatus.DONE and row.treated_at is not None:
        out["performedDateTime"] = instant(row.treated_at)
    sites = fhir.areas_sites(row.areas or "")
    if sites:
        out["bodySite"] = sites
    product = " ".join(p for p in (row.sclerosant, row.concentration, row.form) if p)
    if product:
        out["usedCode"] = [{"text": product}]
    notes = [f"Booked for {instant(row.appointment_at)}"]
    if row.compression:
        notes.append(f"Compression: {row.compression}")
    out["note"] = [{"text": n} for n in notes]
    return out


def questionnaire(version: ProtocolVersion, protocol: Protocol, url: str) -> dict[str, object]:
    """The daily check-in of one protocol version: its warning signs and fixed questions."""
    return {
        "resourceType": "Questionnaire",
        "url": url,
        "version": str(version.version),
        "name": _name(version.key),
        "title": f"Daily check-in: {version.name}",
        "status": "active" if version.is_signed_off else "draft",
        "subjectType": ["Patient"],
        "date": instant(version.created_at),
        "item": fhir.questionnaire_items((f.key, f.title) for f in protocol.red_flags),
    }


def _name(key: str) -> str:
    """A computer-friendly name (FHIR: starts with a capital letter, letters/digits)."""
    words = "".join(w.capitalize() for w in key.replace("_", "-").split("-") if w.isalnum())
    return "CheckIn" + words


def responses(
    row: CheckIn, canonical: str, flag_titles: dict[str, str]
) -> list[tuple[str, dict[str, object]]]:
    """A check-in as QuestionnaireResponses: the latest answers (``amended`` once the
    patient changed them that day), then each earlier version, tagged ``superseded``
    and authored when that version was sent, so corrections stay visible without being
    mistaken for the current answers. Only the latest is referred to by other resources."""
    versions = len(row.history) + 1
    latest = _response(row, canonical, row.answers, row.updated_at, versions, flag_titles)
    latest["status"] = "amended" if row.history else "completed"
    out = [(fhir.urn("QuestionnaireResponse", row.id), latest)]
    for n, earlier in enumerate(row.history, start=1):
        # Each history entry is {"at": when that version was stored, "answers": ...}
        # (app/services/checkins/submit.py).
        sent = earlier.get("at", "") if isinstance(earlier, dict) else ""
        answers = earlier.get("answers") if isinstance(earlier, dict) else None
        answers = answers if isinstance(answers, dict) else {}
        authored = _parsed(sent) or row.created_at
        old = _response(row, canonical, answers, authored, n, flag_titles)
        old["meta"]["tag"] = [fhir.coding(fhir.LOCAL, "superseded", "Replaced by a later answer")]
        out.append((fhir.urn("QuestionnaireResponse", f"{row.id}/v{n}"), old))
    return out


def _parsed(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _response(
    row: CheckIn,
    canonical: str,
    answers: dict[str, object],
    authored: datetime,
    version: int,
    flag_titles: dict[str, str],
) -> dict[str, object]:
    return {
        "resourceType": "QuestionnaireResponse",
        "meta": {"versionId": str(version)},
        "identifier": fhir.identifier("QuestionnaireResponse", row.id),
        "questionnaire": canonical,
        "status": "completed",
        "subject": fhir.ref("Patient", row.patient_id),
        "partOf": [fhir.ref("Procedure", row.treatment_id)],
        "authored": instant(authored),
        "author": fhir.ref("Patient", row.patient_id),
        "item": fhir.response_items(answers, flag_titles),
    }


def pain(row: CheckIn) -> dict[str, object]:
    """The day's pain score, 0-10, as the patient reported it (LOINC 72514-3)."""
    return {
        **_observation(row, "pain"),
        "code": fhir.concept(fhir.LOINC, *fhir.PAIN_LOINC),
        "valueQuantity": fhir.score(row.pain),
    }


def bruising(row: CheckIn) -> dict[str, object]:
    """The day's bruising: none, mild, moderate or severe (SNOMED CT severities)."""
    return {
        **_observation(row, "bruising"),
        "code": fhir.local("bruising", "Bruising after sclerotherapy, as reported"),
        "valueCodeableConcept": fhir.bruising(row.bruising),
    }


def _observation(row: CheckIn, what: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "identifier": [fhir.identifier("Observation", f"{row.id}-{what}")],
        "status": "amended" if row.history else "final",
        "category": fhir.category("survey", "Survey"),
        "subject": fhir.ref("Patient", row.patient_id),
        "partOf": [fhir.ref("Procedure", row.treatment_id)],
        "effectiveDateTime": day(row.on_date),
        "issued": instant(row.updated_at),
        "performer": [fhir.ref("Patient", row.patient_id)],
        "derivedFrom": [fhir.ref("QuestionnaireResponse", row.id)],
    }
