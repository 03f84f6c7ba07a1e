"""FHIR R4 resources for what happened around the check-ins (issue 20 point 2): alerts as
DetectedIssue, clinic comments as Communication, photos as Media (a link to the
clinic's photo route, never the bytes), and outcomes as Observations.

Row in, dict out, like ``fhir_resources``; the codes are in ``app/domain/fhir.py`` and
the choices are explained in docs/fhir.md.
"""

from __future__ import annotations

from app.domain import fhir
from app.domain.outcomes import CLEARANCE
from app.models import Alert
from app.models import ClearanceScore
from app.models import Comment
from app.models import OutcomeRating
from app.models import Photo
from app.services.export.fhir_resources import instant

# Alert level -> DetectedIssue.severity: an emergency answer is "high", same day
# "moderate" (clinical reference §2.6 tiers).
SEVERITY = {"emergency": "high", "same_day": "moderate"}


def detected_issue(row: Alert, *, with_note: bool, session: int | None) -> dict[str, object]:
    """An alert: what the answers showed (``detail``), the check-in that raised it
    (``evidence``), the session whose aftercare it is about (``implicated``: the
    activity the issue is with, R4 DetectedIssue) and its state: ``preliminary`` while
    the clinic has not acknowledged it, ``final`` once it has, with the acknowledgement
    as the ``mitigation`` (who, when, and the note, which goes to the patient's own copy
    only when shared)."""
    level = "Emergency" if row.level == "emergency" else "Same-day"
    out: dict[str, object] = {
        "resourceType": "DetectedIssue",
        "identifier": [fhir.identifier("DetectedIssue", row.id)],
        "status": "final" if row.acknowledged_at else "preliminary",
        "code": fhir.local(f"alert-{row.level}", f"{level} warning sign reported"),
        "severity": SEVERITY.get(row.level, "low"),
        "patient": fhir.ref("Patient", row.patient_id),
        "identifiedDateTime": instant(row.created_at),
    }
    # ``session`` is None when the bundle lacks the check-in: sent while the record was
    # being read (the next export has both), or an alert raised from a refused form (a
    # warning sign's "yes" on a form with other errors), which has no stored check-in
    # until the patient sends the form again. Then nothing cites it: a reference to
    # nothing would not resolve inside the bundle.
    if session is not None:
        out["implicated"] = [fhir.ref("Procedure", session)]
        out["evidence"] = [{"detail": [fhir.ref("QuestionnaireResponse", row.checkin_id)]}]
    if row.reasons:
        out["detail"] = "; ".join(row.reasons)
    if row.acknowledged_at is not None:
        action = "Acknowledged by the clinic"
        if row.ack_note and (with_note or row.note_shared):
            action = f"{action}: {row.ack_note}"
        mitigation: dict[str, object] = {
            "action": fhir.local("acknowledged", "Acknowledged by the clinic") | {"text": action},
            "date": instant(row.acknowledged_at),
        }
        if row.acknowledged_by_id is not None:
            mitigation["author"] = fhir.ref("Practitioner", row.acknowledged_by_id)
        out["mitigation"] = [mitigation]
    return out


def communication(row: Comment, clinic_id: int) -> dict[str, object]:
    """A clinic comment in the patient's diary, from its author (or, for a removed
    account, the clinic with the name as written)."""
    if row.author_id is not None:
        sender = fhir.ref("Practitioner", row.author_id, row.author_name)
    else:
        sender = fhir.ref("Organization", clinic_id, row.author_name)
    return {
        "resourceType": "Communication",
        "identifier": [fhir.identifier("Communication", row.id)],
        "status": "completed",
        "subject": fhir.ref("Patient", row.patient_id),
        "recipient": [fhir.ref("Patient", row.patient_id)],
        "sender": sender,
        "sent": instant(row.created_at),
        "payload": [{"contentString": row.body}],
    }


def media(row: Photo, url: str) -> dict[str, object]:
    """A photo: where on the leg, when, which session, and a link to the image (the
    clinic's photo route: signed-in staff of the clinic only, audited, not cached)."""
    out: dict[str, object] = {
        "resourceType": "Media",
        "identifier": [fhir.identifier("Media", row.id)],
        "status": "completed",
        "type": fhir.concept(fhir.MEDIA_TYPE, "image", "Image"),
        "subject": fhir.ref("Patient", row.patient_id),
        "createdDateTime": instant(row.taken_at),
        "bodySite": fhir.site(row.side, row.region, row.view),
        "width": row.width,
        "height": row.height,
        "content": {
            "contentType": "image/jpeg",
            "url": url,
            "size": row.full_size,
            "title": f"{row.phase} photo, {row.side} {row.region} ({row.view})",
            "creation": instant(row.taken_at),
        },
    }
    if row.treatment_id is not None:
        out["partOf"] = [fhir.ref("Procedure", row.treatment_id)]
    if row.note:
        out["note"] = [{"text": row.note}]
    return out


def rating(row: OutcomeRating) -> list[tuple[str, dict[str, object]]]:
    """The patient's rating of a session: improvement (%) and satisfaction (1-5), and
    the side effects still present, each an Observation of the session."""
    base = {
        "resourceType": "Observation",
        "status": "amended" if row.history else "final",
        "category": fhir.category("survey", "Survey"),
        "subject": fhir.ref("Patient", row.patient_id),
        "partOf": [fhir.ref("Procedure", row.treatment_id)],
        "effectiveDateTime": instant(row.updated_at),
        "performer": [fhir.ref("Patient", row.patient_id)],
    }
    parts = {
        "improvement": {
            "code": fhir.local("improvement", "Improvement since the session, patient-rated"),
            "valueQuantity": fhir.score(row.improvement, "%"),
        },
        "satisfaction": {
            "code": fhir.local("satisfaction", "Satisfaction with the session, 1-5"),
            "valueQuantity": fhir.score(row.satisfaction),
        },
        "side-effects": {
            "code": fhir.local("side-effects", "Side effects still present"),
            "valueString": row.side_effects.replace(" ", ", ") or "none",
        },
    }
    return [
        (
            fhir.urn("Observation", f"rating-{row.id}-{key}"),
            {**base, "identifier": [fhir.identifier("Observation", f"rating-{row.id}-{key}")]}
            | part,
        )
        for key, part in parts.items()
    ]


def clearance(row: ClearanceScore, patient_id: int, photos: set[int]) -> dict[str, object]:
    """The clinic's blinded 0-4 clearance score of one site's matched photos
    (app/domain/outcomes.py CLEARANCE), pointing at the two photos it compared among
    ``photos``, the ids of the Media in the bundle (a photo deleted meanwhile is not)."""
    words = CLEARANCE.get(row.score, "")
    out: dict[str, object] = {
        "resourceType": "Observation",
        "identifier": [fhir.identifier("Observation", f"clearance-{row.id}")],
        "status": "final",
        "category": fhir.category("exam", "Exam"),
        "code": fhir.local("clearance", "Vein clearance, clinician-scored 0-4 from photos"),
        "subject": fhir.ref("Patient", patient_id),
        "partOf": [fhir.ref("Procedure", row.treatment_id)],
        "effectiveDateTime": instant(row.scored_at),
        "valueQuantity": fhir.score(row.score),
        "bodySite": fhir.site(*(row.site.split("-") + ["", "", ""])[:3]),
        "derivedFrom": [
            fhir.ref("Media", pid)
            for pid in (row.before_photo_id, row.after_photo_id)
            if pid in photos
        ],
    }
    if words:
        out["interpretation"] = [{"text": words}]
    if row.scored_by_id is not None:
        out["performer"] = [fhir.ref("Practitioner", row.scored_by_id)]
    return out
