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


class SessionFacts(db.Model):
    """What a session's check-ins showed, kept up to date by the check-in service
    (app/services/outcomes/facts.py): the one place the complications and stocking
    answers of a session are worked out (app/domain/outcomes.py:complications), read by
    the patient page and added into the clinic's totals. A session without check-ins
    has no row. Each flag says whether any check-in of the session showed it."""

    __tablename__ = "session_facts"

    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), primary_key=True
    )
    bruising: Mapped[bool] = mapped_column(default=False)
    pigmentation: Mapped[bool] = mapped_column(default=False)
    matting: Mapped[bool] = mapped_column(default=False)
    skin_breakdown: Mapped[bool] = mapped_column(default=False)
    dvt: Mapped[bool] = mapped_column(default=False)
    # Stocking answers over the session's check-ins: worn / not worn, day and night
    # (a question not answered counts in neither).
    day_yes: Mapped[int] = mapped_column(default=0)
    day_no: Mapped[int] = mapped_column(default=0)
    night_yes: Mapped[int] = mapped_column(default=0)
    night_no: Mapped[int] = mapped_column(default=0)


class OutcomeTally(db.Model):
    """A clinic's running totals for its outcomes page, per protocol version and
    sclerosant (as recorded): one row per thing counted (``key``, named in
    app/domain/outcomes.py, e.g. "sessions", "dvt", "improvement:70").

    Changed in the same transaction as whatever it counts (a session recorded, a
    check-in, a rating, a score: app/services/outcomes/tallies.py), so the page reads a
    few hundred rows whatever the clinic's size (bench/outcomes.py) instead of adding
    up every session. Rows may reach 0 and stay; the page skips them."""

    __tablename__ = "outcome_tallies"

    clinic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True
    )
    protocol_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("protocol_versions.id", ondelete="CASCADE"), primary_key=True
    )
    sclerosant: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
