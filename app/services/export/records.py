"""Every record about one patient, as JSON-ready rows (issue 20 point 1).

``collect`` reads the patient's rows once, section by section, into plain dicts: the
account, the sessions, check-ins with their earlier answers (``history``), ticks,
alerts, comments, photo records, outcome ratings and the audit trail of who looked at
or changed their record. Rows are small (90 check-ins are a few hundred kilobytes); the
photo bytes, which are not, are copied file by file by ``archive``, never held here.

What is left out, and why: password and session hashes, device keys and tokens (secrets,
not data about the patient's health), staff members' addresses in the audit trail and
the chain's hashes (about the clinic's systems, not the patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Clinic
from app.models import Comment
from app.models import OutcomeRating
from app.models import Patient
from app.models import Photo
from app.models import ProtocolVersion
from app.models import TaskTick
from app.models import Treatment
from app.models import User


@dataclass
class Records:
    """One patient's records, each section a list of plain dicts in time order."""

    account: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def plain(value: object) -> object:
    """A stored value as JSON: instants and dates as ISO 8601, enums as their value."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value  # type: ignore[attr-defined]
    return value


def _row(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: plain(getattr(obj, name)) for name in names}


_SESSION = (
    "id", "status", "appointment_at", "treated_at", "sclerosant", "form", "concentration",
    "areas", "compression", "created_at",
)  # fmt: skip
_CHECKIN = (
    "id", "treatment_id", "day", "on_date", "answers", "history", "pain", "bruising",
    "level", "reasons", "note", "created_at", "updated_at", "reviewed_at",
)  # fmt: skip
_ALERT = (
    "id", "checkin_id", "level", "reasons", "created_at", "acknowledged_at",
)  # fmt: skip
_PHOTO = (
    "id", "treatment_id", "phase", "day", "taken_at", "taken_on", "side", "region", "view",
    "note", "full_sha256", "full_size", "width", "height", "created_at", "reviewed_at",
)  # fmt: skip
_RATING = (
    "id", "treatment_id", "improvement", "satisfaction", "side_effects", "history",
    "created_at", "updated_at",
)  # fmt: skip


def collect(patient_id: int) -> Records:
    """Read every record about the patient (a handful of queries, one per section)."""
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise LookupError(f"patient #{patient_id} is gone")
    user = db.session.get(User, patient.user_id)
    clinic = db.session.get(Clinic, patient.clinic_id)
    account = {
        "name": user.name if user else "",
        "email": user.email if user else "",
        "created_at": plain(user.created_at) if user else None,
        "clinic": clinic.name if clinic else "",
        "timezone": patient.timezone,
        "phone": patient.phone,
        "language": patient.language,
        "quiet_hours": {"start": plain(patient.quiet_start), "end": plain(patient.quiet_end)},
        "discharged_at": plain(patient.discharged_at),
    }
    out = Records(account)
    sessions = db.session.execute(
        sa.select(Treatment, ProtocolVersion.name)
        .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.appointment_at, Treatment.id)
    ).all()
    out.sections["sessions"] = [_row(t, _SESSION) | {"protocol": title} for t, title in sessions]
    ids = [t.id for t, _title in sessions]
    out.sections["checkins"] = [
        _row(c, _CHECKIN)
        for c in db.session.scalars(
            sa.select(CheckIn)
            .where(CheckIn.patient_id == patient_id)
            .order_by(CheckIn.on_date, CheckIn.id)
        )
    ]
    out.sections["checklist_ticks"] = [
        _row(t, ("treatment_id", "item_key", "ticked_at"))
        for t in db.session.scalars(
            sa.select(ChecklistTick)
            .where(ChecklistTick.treatment_id.in_(ids))
            .order_by(ChecklistTick.ticked_at)
        )
    ]
    out.sections["task_ticks"] = [
        _row(t, ("treatment_id", "task_key", "day", "ticked_at"))
        for t in db.session.scalars(
            sa.select(TaskTick).where(TaskTick.treatment_id.in_(ids)).order_by(TaskTick.ticked_at)
        )
    ]
    out.sections["alerts"] = [_alert(a) for a in _alerts(patient_id)]
    out.sections["comments"] = [
        _row(c, ("id", "author_name", "body", "created_at"))
        for c in db.session.scalars(
            sa.select(Comment).where(Comment.patient_id == patient_id).order_by(Comment.created_at)
        )
    ]
    out.sections["photos"] = [
        _row(p, _PHOTO) | {"file": photo_name(p)} for p in photos_of(patient_id)
    ]
    out.sections["outcome_ratings"] = [
        _row(r, _RATING)
        for r in db.session.scalars(
            sa.select(OutcomeRating)
            .where(OutcomeRating.patient_id == patient_id)
            .order_by(OutcomeRating.created_at)
        )
    ]
    out.sections["audit"] = [
        {"at": plain(at), "who": who, "action": action, "detail": detail}
        for at, who, action, detail in db.session.execute(
            sa.select(
                AuditEvent.created_at, AuditEvent.actor_name, AuditEvent.action, AuditEvent.detail
            )
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id)
        )
    ]
    return out


def _alerts(patient_id: int) -> list[Alert]:
    return list(
        db.session.scalars(
            sa.select(Alert).where(Alert.patient_id == patient_id).order_by(Alert.created_at)
        )
    )


def _alert(alert: Alert) -> dict[str, Any]:
    row = _row(alert, _ALERT)
    # The clinic's note is the patient's only when the clinician chose to share it.
    row["note_to_you"] = alert.ack_note if alert.note_shared else ""
    return row


def photos_of(patient_id: int) -> list[Photo]:
    """The patient's photo rows, oldest first (the bytes stay in the photo store)."""
    return list(
        db.session.scalars(
            sa.select(Photo)
            .where(Photo.patient_id == patient_id)
            .order_by(Photo.taken_at, Photo.id)
        )
    )


def photo_name(photo: Photo) -> str:
    """The photo's name inside the zip: its date, site and id, so names never clash."""
    return f"photos/{photo.taken_on.isoformat()}-{photo.site}-{photo.id}.jpg"
