"""Daily check-ins, the keys each was sent with, and the alerts they raise for the clinic."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from app.models.user import User


class CheckIn(db.Model):
    """One check-in per treatment and day; editable that day, earlier answers kept."""

    __tablename__ = "checkins"
    __table_args__ = (
        sa.UniqueConstraint("treatment_id", "day", name="uq_checkins_treatment_day"),
        # The dashboard's "new check-ins awaiting review", per clinic, newest first.
        sa.Index("ix_checkins_clinic_review", "clinic_id", "reviewed_at", "created_at"),
        # "New check-ins to review", oldest first, read in index order (only open ones).
        sa.Index(
            "ix_checkins_unreviewed",
            "clinic_id",
            "created_at",
            "id",
            postgresql_where=sa.text("reviewed_at IS NULL"),
            sqlite_where=sa.text("reviewed_at IS NULL"),
        ),
        # A patient's latest check-in (and their diary, by date) without a sort.
        sa.Index("ix_checkins_patient_updated", "patient_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed with updated_at below (ix_checkins_patient_updated).
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    treatment_id: Mapped[int] = mapped_column(sa.ForeignKey("treatments.id", ondelete="CASCADE"))
    day: Mapped[int]
    on_date: Mapped[date] = mapped_column(sa.Date)
    answers: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    history: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    pain: Mapped[int]
    bruising: Mapped[str] = mapped_column(sa.String(10))
    level: Mapped[str] = mapped_column(sa.String(10))  # emergency | same_day | routine | none
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class CheckInKey(db.Model):
    """Every client-made key (UUID) a check-in was sent with, so a double tap or an
    offline replay of any earlier version, even after an edit, is stored once and never
    brings back older answers."""

    __tablename__ = "checkin_keys"

    client_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    checkin_id: Mapped[int] = mapped_column(
        sa.ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )


class Alert(db.Model):
    """An emergency or same-day answer, for the clinic to acknowledge.

    Keyed by the check-in's treatment and day: a warning sign answered "yes" on a form
    refused for another reason is alerted at once, before any check-in is stored
    (``checkin_id`` is then empty), and the check-in sent later joins that alert
    instead of raising a second one (issue 19 point 3).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        sa.Index("ix_alerts_clinic_open", "clinic_id", "acknowledged_at", "created_at"),
        # The day's alert, found before and after its check-in is stored.
        sa.Index("ix_alerts_treatment_day", "treatment_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    # Empty until the day's check-in is stored (an alert from a refused form).
    checkin_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )
    # The treatment and day the alert is for; empty only on alerts made elsewhere
    # (tests' fixtures), which are then found by their check-in.
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE")
    )
    day: Mapped[int | None]
    level: Mapped[str] = mapped_column(sa.String(10))
    # 0 = emergency, 1 = same day: sorts the dashboard by severity in SQL.
    severity: Mapped[int]
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    ack_note: Mapped[str] = mapped_column(sa.Text, default="")
    # The clinician chose to show ack_note to the patient on Today (issue 14 point 4);
    # otherwise the note is for the clinic only.
    note_shared: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Loaded with the alert where the page shows who acknowledged it (never lazily).
    acknowledged_by: Mapped[User | None] = relationship(lazy="raise")
