"""Outcomes per session (issue 19 point 6): the patient's own rating and the clinic's
blinded clearance score of matched before and after photos. One row of each per session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class OutcomeRating(db.Model):
    """The patient's rating of one done session; last write wins while it may still be
    changed (app/domain/outcomes.py), each earlier answer kept in ``history``."""

    __tablename__ = "outcome_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), unique=True
    )
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    improvement: Mapped[int]  # 0-100 %
    satisfaction: Mapped[int]  # 1-5
    # Space-separated keys of side effects still present ("matting pigmentation"); "" none.
    side_effects: Mapped[str] = mapped_column(sa.String(40), default="")
    history: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ClearanceScore(db.Model):
    """A clinician's 0-4 clearance score of one session's matched photos of one site."""

    __tablename__ = "clearance_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), unique=True
    )
    site: Mapped[str] = mapped_column(sa.String(40))
    before_photo_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("photos.id", ondelete="SET NULL")
    )
    after_photo_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("photos.id", ondelete="SET NULL")
    )
    score: Mapped[int]
    scored_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
