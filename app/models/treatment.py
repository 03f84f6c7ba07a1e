"""Treatment sessions of a course, and what the patient ticked for each."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from app.models.patient import Patient
    from app.models.protocol import ProtocolVersion
    from app.models.user import User


class TreatmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class Treatment(db.Model):
    """One session: booked (appointment), then recorded when it happens, or cancelled."""

    __tablename__ = "treatments"
    # The dashboard's "sessions in the next two weeks" is a range on this index.
    __table_args__ = (sa.Index("ix_treatments_status_appointment", "status", "appointment_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    protocol_version_id: Mapped[int] = mapped_column(sa.ForeignKey("protocol_versions.id"))
    status: Mapped[TreatmentStatus] = mapped_column(
        sa.Enum(
            TreatmentStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=TreatmentStatus.SCHEDULED,
    )
    appointment_at: Mapped[datetime] = mapped_column(UTCDateTime)
    treated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sclerosant: Mapped[str] = mapped_column(sa.String(80), default="")
    form: Mapped[str] = mapped_column(sa.String(10), default="")  # liquid | foam
    concentration: Mapped[str] = mapped_column(sa.String(40), default="")
    areas: Mapped[str] = mapped_column(sa.String(300), default="")
    compression: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # The clinic's own checklist items (by = "clinic": duplex scan, consultation) the
    # recording clinician confirmed were done, space-separated keys, with who and when.
    checks_confirmed: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    checks_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checks_confirmed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    patient: Mapped[Patient] = relationship()
    protocol_version: Mapped[ProtocolVersion] = relationship()
    checks_confirmed_by: Mapped[User | None] = relationship()

    @property
    def anchor(self) -> datetime:
        """Aftercare runs from the recorded treatment time, else from the appointment."""
        return self.treated_at or self.appointment_at


class ChecklistTick(db.Model):
    __tablename__ = "checklist_ticks"

    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), primary_key=True
    )
    item_key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class TaskTick(db.Model):
    """A daily task ticked on day N after a treatment; one row per task and day."""

    __tablename__ = "task_ticks"

    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), primary_key=True
    )
    task_key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
