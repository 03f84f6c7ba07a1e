"""Every record about one patient, as JSON-ready rows (issue 20 point 1).

``collect`` reads the patient's rows once, section by section, into plain dicts: the
account, the sessions, check-ins with their earlier answers (``history``), ticks,
alerts, comments, photo records, outcome ratings, the reminders sent to them, their
email choices, any request to close the account, and the audit trail of who looked at
or changed their record. Rows are small (90 check-ins are a few hundred kilobytes); the
photo bytes, which are not, are copied file by file by ``archive``, never held here.
A photo whose file is missing or damaged is left out by ``archive``, which then lists it
in the ``photos_not_included`` section (with why) and gives its record no ``file``.

What is left out, and why: password and session hashes, device keys and tokens (secrets,
not data about the patient's health), staff members' addresses in the audit trail and
the chain's hashes (about the clinic's systems, not the patient).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Clinic
from app.models import Comment
from app.models import EmailPreference
from app.models import OutboxMessage
from app.models import OutcomeRating
from app.models import Patient
from app.models import Photo
from app.models import ProtocolVersion
from app.models import TaskTick
from app.models import Treatment
from app.models import User


@dataclass(frozen=True, slots=True)
class PhotoFile:
    """Where one photo's bytes are and what they must be (not written to data.json)."""

    name: str  # inside the zip
    key: str  # in the photo store
    size: int
    sha256: str  # what the stored bytes must hash to, or they are left out
    photo_id: int


@dataclass
class Records:
    """One patient's records, each section a list of plain dicts in time order, and the
    photo files to copy."""

    account: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    photo_files: list[PhotoFile] = field(default_factory=list)


def plain(value: object) -> object:
    """A stored value JSON has no type for (``json.dumps(default=plain)``): instants,
    dates and times as ISO 8601, enums as their value."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a record value")


def _rows(query: sa.Select) -> list[dict[str, Any]]:
    """Rows of a column select as dicts of their stored values (Core rows, no ORM
    objects: the same read a bare SELECT does, bench/export.py). Instants stay
    ``datetime`` until written: ``plain`` is the JSON encoder's ``default``."""
    return [dict(row) for row in db.session.execute(query).mappings()]


def _columns(model: type, names: str) -> list[sa.ColumnElement]:
    return [getattr(model, name) for name in names.split()]


_SESSION = (
    "id status appointment_at treated_at sclerosant form concentration areas compression created_at"
)
_CHECKIN = (
    "id treatment_id day on_date answers history pain bruising level reasons note "
    "created_at updated_at reviewed_at"
)
_ALERT = "id checkin_id level reasons created_at acknowledged_at"
_PHOTO = (
    "id treatment_id phase day taken_at taken_on side region view note full_sha256 "
    "full_size width height created_at reviewed_at"
)
_RATING = "id treatment_id improvement satisfaction side_effects history created_at updated_at"


def collect(patient_id: int) -> Records:
    """Read every record about the patient (one query per section)."""
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise LookupError(f"patient #{patient_id} is gone")
    user = db.session.get(User, patient.user_id)
    clinic = db.session.get(Clinic, patient.clinic_id)
    account = {
        "name": user.name if user else "",
        "email": user.email if user else "",
        "created_at": user.created_at if user else None,
        "clinic": clinic.name if clinic else "",
        "timezone": patient.timezone,
        "phone": patient.phone,
        "language": patient.language,
        "quiet_hours": {"start": patient.quiet_start, "end": patient.quiet_end},
        "discharged_at": patient.discharged_at,
    }
    out = Records(account)
    out.sections["sessions"] = _rows(
        sa.select(*_columns(Treatment, _SESSION), ProtocolVersion.name.label("protocol"))
        .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.appointment_at, Treatment.id)
    )
    ids = [s["id"] for s in out.sections["sessions"]]
    out.sections["checkins"] = _rows(
        sa.select(*_columns(CheckIn, _CHECKIN))
        .where(CheckIn.patient_id == patient_id)
        .order_by(CheckIn.on_date, CheckIn.id)
    )
    out.sections["checklist_ticks"] = _rows(
        sa.select(*_columns(ChecklistTick, "treatment_id item_key ticked_at"))
        .where(ChecklistTick.treatment_id.in_(ids))
        .order_by(ChecklistTick.ticked_at)
    )
    out.sections["task_ticks"] = _rows(
        sa.select(*_columns(TaskTick, "treatment_id task_key day ticked_at"))
        .where(TaskTick.treatment_id.in_(ids))
        .order_by(TaskTick.ticked_at)
    )
    # The clinic's note is the patient's only when the clinician chose to share it.
    shared = sa.case((Alert.note_shared.is_(True), Alert.ack_note), else_="")
    out.sections["alerts"] = _rows(
        sa.select(*_columns(Alert, _ALERT), shared.label("note_to_you"))
        .where(Alert.patient_id == patient_id)
        .order_by(Alert.created_at)
    )
    out.sections["comments"] = _rows(
        sa.select(*_columns(Comment, "id author_name body created_at"))
        .where(Comment.patient_id == patient_id)
        .order_by(Comment.created_at)
    )
    _add_photos(out, patient_id)
    out.sections["outcome_ratings"] = _rows(
        sa.select(*_columns(OutcomeRating, _RATING))
        .where(OutcomeRating.patient_id == patient_id)
        .order_by(OutcomeRating.created_at)
    )
    _add_account_records(out, patient_id)
    out.sections["audit"] = _rows(
        sa.select(
            AuditEvent.created_at.label("at"),
            AuditEvent.actor_name.label("who"),
            AuditEvent.action,
            AuditEvent.detail,
        )
        .where(AuditEvent.patient_id == patient_id)
        .order_by(AuditEvent.id)
    )
    return out


def _add_account_records(out: Records, patient_id: int) -> None:
    """What the app keeps about the patient besides the diary (Art. 15 covers it too):
    the reminders sent to them (kind and when: their words are the generic ones of
    app/domain/reminders.py; messages to staff about them are the clinic's), their
    email choices and any request to close the account."""
    out.sections["notifications"] = _rows(
        sa.select(*_columns(OutboxMessage, "kind channel due_at sent_at state"))
        .where(OutboxMessage.patient_id == patient_id, OutboxMessage.recipient_user_id.is_(None))
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    out.sections["email_preferences"] = _rows(
        sa.select(
            *_columns(EmailPreference, "reminders_by_email unsubscribed_at updated_at")
        ).where(EmailPreference.patient_id == patient_id)
    )
    out.sections["account_closure"] = _rows(
        sa.select(
            *_columns(
                AccountClosure,
                "requested_at completed_at retention_years photos_policy keep_until",
            )
        )
        .where(AccountClosure.patient_id == patient_id)
        .order_by(AccountClosure.requested_at)
    )


def _add_photos(out: Records, patient_id: int) -> None:
    """The photo records (for data.json) and their files (for the copy), in one read."""
    rows = db.session.execute(
        sa.select(*_columns(Photo, _PHOTO), Photo.full_key)
        .where(Photo.patient_id == patient_id)
        .order_by(Photo.taken_at, Photo.id)
    ).mappings()
    photos = out.sections["photos"] = []
    for row in rows:
        record = {name: row[name] for name in _PHOTO.split()}
        name = photo_name(row["taken_on"], row["side"], row["region"], row["view"], row["id"])
        record["file"] = name
        photos.append(record)
        out.photo_files.append(
            PhotoFile(name, row["full_key"], row["full_size"], row["full_sha256"], row["id"])
        )


_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def photo_name(taken_on: date, side: str, region: str, view: str, photo_id: int) -> str:
    """A photo's name inside the zip: its date, site and id, so names never clash.

    The site words are the app's own (left, calf, inner), but a row written by a
    command line or an older version could hold anything: only letters, digits and
    ``_`` are kept, so no field can make a name with ``..`` or a slash (unzip tools
    that follow such names would write outside the folder the patient chose)."""
    site = "-".join(_UNSAFE.sub("_", part) or "_" for part in (side, region, view))
    return f"photos/{taken_on.isoformat()}-{site}-{photo_id}.jpg"
