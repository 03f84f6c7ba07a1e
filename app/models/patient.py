"""A patient's clinical profile: clinic, time zone and their course of treatments."""

from __future__ import annotations

from datetime import datetime
from datetime import time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.dbtypes import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from app.models.clinic import Clinic
    from app.models.user import User


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        # The dashboard's "missed check-ins": a range on last_seen_at (bounded below by the
        # follow-up window, see app/services/review/triage.py:_missed), read in the order shown.
        sa.Index("ix_patients_last_seen", "clinic_id", "last_seen_at", "follow_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    # IANA zone: day N, due times and reminders are computed in it.
    timezone: Mapped[str] = mapped_column(sa.String(64))
    # For call-backs after an alert; checked loosely (app/services/clinic/settings.py:check_phone).
    phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    # No reminders between these local times unless time-critical (default 21:00-08:00).
    quiet_start: Mapped[time] = mapped_column(sa.Time, default=time(21, 0))
    quiet_end: Mapped[time] = mapped_column(sa.Time, default=time(8, 0))
    # Kept up to date by app/services/care/followup.py whenever a treatment is recorded or a
    # check-in is saved, so the dashboard's "missed check-ins" reads a few index entries
    # instead of grouping every check-in of the clinic (bench/clinician_dashboard.py).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Discharge (app/services/clinic/lifecycle.py): reminders stop, the patient leaves the
    # dashboard and keeps read-only access for SCLERO_DISCHARGE_READ after this instant.
    # None: an active patient (re-opening clears it).
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discharge_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    # Clinic comments and acknowledgements after this instant are "new" on Today until
    # the patient reads or dismisses them (issue 19 point 3, app/services/care/messages.py).
    messages_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language the patient reads the app in ("en", "es"); "" follows the clinic's
    # locale (issue 19 point 4, app/i18n.py).
    language: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")

    user: Mapped[User] = relationship(back_populates="patient")
    clinic: Mapped[Clinic] = relationship()
