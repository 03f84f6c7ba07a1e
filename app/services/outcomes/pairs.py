"""A session's matched photos: for each body site, the latest photo before the session
("before") and the latest taken four weeks or more after it ("after"), and before the
next session, so a pair shows one session's effect (app/domain/outcomes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.domain.outcomes import AFTER_PHOTO_FROM
from app.domain.photos import Site
from app.extensions import db
from app.models import Photo


@dataclass(frozen=True)
class Pair:
    site: Site
    before_id: int
    before_at: datetime
    after_id: int
    after_at: datetime


def patient_photos(patient_id: int) -> list[tuple]:
    """A patient's photos as (id, side, region, view, taken_at), oldest first."""
    return list(
        db.session.execute(
            sa.select(Photo.id, Photo.side, Photo.region, Photo.view, Photo.taken_at)
            .where(Photo.patient_id == patient_id)
            .order_by(Photo.taken_at, Photo.id)
        ).all()
    )


def photo_pairs(rows: list[tuple], anchor: datetime, next_anchor: datetime | None) -> list[Pair]:
    """The matched pairs of one session from ``patient_photos``, one per site that has
    both, in site order."""
    before: dict[tuple, tuple[int, datetime]] = {}
    after: dict[tuple, tuple[int, datetime]] = {}
    for pid, side, region, view, taken in rows:
        key = (side, region, view)
        if taken < anchor:
            before[key] = (pid, taken)  # ordered by time: the last one wins
        elif taken >= anchor + AFTER_PHOTO_FROM and (next_anchor is None or taken < next_anchor):
            after[key] = (pid, taken)
    return [
        Pair(Site(*key), *before[key], *after[key]) for key in sorted(before.keys() & after.keys())
    ]
