"""A patient's course of sessions, as the patient pages and check-ins read it.

A patient's course is a list of sessions. Aftercare follows the latest *recorded*
treatment; the checklist belongs to the next *booked* one. A patient can be in both at
once (recovering from session 1 while session 2 is booked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.protocol import Protocol
from app.extensions import reads
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import PatientInfo
from app.principal import Principal
from app.services.errors import NotFound
from app.services.protocols import protocol_by_version


@dataclass(frozen=True)
class Session:
    """One session of the course, as the patient pages need it (plain data)."""

    id: int
    status: TreatmentStatus
    appointment_at: datetime
    treated_at: datetime | None
    protocol_version_id: int
    protocol_sha256: str

    @property
    def anchor(self) -> datetime:
        """Aftercare runs from the recorded treatment time, else from the appointment."""
        return self.treated_at or self.appointment_at


@dataclass(frozen=True)
class Course:
    """A patient's sessions, split into the one recovering from and the next booked."""

    patient: PatientInfo
    tz: ZoneInfo
    sessions: list[Session]
    recovering: Session | None
    upcoming: Session | None

    def number_of(self, session: Session) -> int:
        """Session number within the course, counting only sessions not cancelled."""
        live = [t for t in self.sessions if t.status != TreatmentStatus.CANCELLED]
        return live.index(session) + 1 if session in live else 0


_COURSE_QUERY = (
    sa.select(
        Treatment.id,
        Treatment.status,
        Treatment.appointment_at,
        Treatment.treated_at,
        Treatment.protocol_version_id,
        ProtocolVersion.sha256,
    )
    .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
    .where(Treatment.patient_id == sa.bindparam("patient_id"))
    .order_by(Treatment.appointment_at, Treatment.id)
)


def load_course(user: Principal, conn: sa.Connection | None = None) -> Course:
    """All sessions of the signed-in patient (no protocol text).

    The sign-in check has usually read them already (``PatientInfo.sessions``); else
    one query. Patients never change their own sessions, so within a request that copy
    is current.
    """
    patient = user.patient
    if patient is None:
        raise NotFound("Not a patient account.")
    rows = patient.sessions
    if rows is None:
        rows = (conn or reads()).execute(_COURSE_QUERY, {"patient_id": patient.id})
    sessions = [Session(*row) for row in rows]
    done = [t for t in sessions if t.status == TreatmentStatus.DONE]
    booked = [t for t in sessions if t.status == TreatmentStatus.SCHEDULED]
    return Course(
        patient=patient,
        tz=ZoneInfo(patient.timezone),
        sessions=sessions,
        recovering=max(done, key=lambda t: t.anchor, default=None),
        upcoming=min(booked, key=lambda t: t.appointment_at, default=None),
    )


def protocol_for(session: Session) -> Protocol:
    """The protocol version pinned by a session (parsed once per process and version)."""
    return protocol_by_version(session.protocol_version_id, session.protocol_sha256)
