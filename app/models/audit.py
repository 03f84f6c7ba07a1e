"""The audit trail: who looked at or changed which patient's data."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class AuditEvent(db.Model):
    """Who looked at or changed which patient's data, when and from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_clinic_time", "clinic_id", "created_at"),
        # "Who looked at your diary": a patient's latest events, read in order (the
        # dashboard adds one per patient it lists, so a followed patient gathers many).
        sa.Index("ix_audit_events_patient_time", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(sa.String(120))
    # Indexed with created_at (ix_audit_events_patient_time).
    patient_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str] = mapped_column(sa.String(300), default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
