"""A photo in the patient's diary: where on the leg, when in the course, and its files."""

from __future__ import annotations

from datetime import date
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class Photo(db.Model):
    """One re-encoded photo and its thumbnail; the bytes live in the photo store.

    ``treatment_id`` and ``day`` place it in the course: ``phase`` "before" for photos
    taken ahead of a session (``day`` is then 0 or negative), "after" for day N of
    recovery. Deleting removes the row first, then the files (a crash in between leaves
    an orphan file for the sweeper, never a row without its file).
    """

    __tablename__ = "photos"
    __table_args__ = (
        # The diary and compare pages: a patient's photos of one site over time.
        sa.Index("ix_photos_patient_site", "patient_id", "side", "region", "view", "taken_at"),
        sa.Index("ix_photos_patient_taken", "patient_id", "taken_at"),
        # The dashboard's "new photos to review", oldest first, read in index order.
        sa.Index(
            "ix_photos_unreviewed",
            "clinic_id",
            "created_at",
            "id",
            postgresql_where=sa.text("reviewed_at IS NULL"),
            sqlite_where=sa.text("reviewed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="SET NULL"), index=True
    )
    phase: Mapped[str] = mapped_column(sa.String(10))  # before | after
    day: Mapped[int | None]
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_on: Mapped[date] = mapped_column(sa.Date)  # the patient's local date
    side: Mapped[str] = mapped_column(sa.String(10))  # left | right
    region: Mapped[str] = mapped_column(sa.String(10))  # thigh | knee | calf | ankle | foot
    view: Mapped[str] = mapped_column(sa.String(10))  # front | back | inner | outer
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    full_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_sha256: Mapped[str] = mapped_column(sa.String(64))
    full_size: Mapped[int]
    thumb_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    thumb_sha256: Mapped[str] = mapped_column(sa.String(64))
    width: Mapped[int]
    height: Mapped[int]
    source_format: Mapped[str] = mapped_column(sa.String(10))
    # A client-made key (UUID) so a double tap or an offline replay is stored once.
    client_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Set when a clinician has looked at it (or marked the check-in of its day reviewed).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def site(self) -> str:
        """The site as one token, e.g. ``left-calf-inner``."""
        return f"{self.side}-{self.region}-{self.view}"
