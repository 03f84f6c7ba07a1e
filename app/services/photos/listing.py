"""What photo pages show, built for any one patient: items, the diary by day, and
comparisons. ``album`` (the patient's own) and ``clinic`` (audited) decide who may see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.domain.photos import fit_box
from app.domain.photos import when_label
from app.extensions import db
from app.models import Photo
from app.models import Treatment
from app.models import TreatmentStatus
from app.services.photos.sites import Site

PAGE = 40


@dataclass(frozen=True)
class PhotoItem:
    """A photo as pages show it."""

    id: int
    site: Site
    taken_at: datetime
    taken_on: date
    when: str  # "Day 3 after treatment", "Before session 2"
    note: str
    width: int
    height: int
    new: bool = False  # no clinician has looked at it yet

    def thumb_size(self, edge: int = 320) -> tuple[int, int]:
        """The thumbnail's size (for width/height attributes, so pages do not jump)."""
        return fit_box(self.width, self.height, edge)


@dataclass(frozen=True)
class PhotoDay:
    on: date
    when: str
    photos: list[PhotoItem]


@dataclass(frozen=True)
class PhotoDiary:
    tz: str
    days: list[PhotoDay]
    total: int
    page: int
    on: date | None = None  # the one day shown, when the page is of one day

    @property
    def new_ids(self) -> list[int]:
        """The page's photos no clinician has looked at yet."""
        return [ph.id for day in self.days for ph in day.photos if ph.new]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))


@dataclass(frozen=True)
class Comparison:
    """Two photos of one site side by side, and the choices for each slot."""

    tz: str
    sites: list[tuple[Site, int]]  # every site with photos, and how many
    site: Site | None
    choices: list[PhotoItem]  # the site's photos, oldest first
    left: PhotoItem | None
    right: PhotoItem | None


def session_numbers(patient_id: int) -> dict[int, int]:
    """Session number (1, 2, ...) of each treatment not cancelled, by appointment."""
    rows = db.session.execute(
        sa.select(Treatment.id, Treatment.status)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.appointment_at, Treatment.id)
    )
    return numbered(rows)


def numbered(sessions: Iterable[Sequence[Any]]) -> dict[int, int]:
    """Session numbers from rows that start (id, status), in appointment order: the
    query above, or the sessions the sign-in check already read for a patient
    (``PatientInfo.sessions``), which saves the patient's own pages a statement."""
    live = [row[0] for row in sessions if row[1] != TreatmentStatus.CANCELLED]
    return {tid: n for n, tid in enumerate(live, start=1)}


def items(rows: Iterable[Photo], numbers: dict[int, int]) -> list[PhotoItem]:
    """Photo rows as pages show them, each placed in words by its session number."""
    many = len(numbers) > 1
    return [
        PhotoItem(
            id=p.id,
            site=Site(p.side, p.region, p.view),
            taken_at=p.taken_at,
            taken_on=p.taken_on,
            when=when_label(p.phase, p.day, numbers.get(p.treatment_id or 0), many),
            note=p.note,
            width=p.width,
            height=p.height,
            # The patient's diary builds its rows without it (checkins/history.py):
            # "new" is for clinicians, and a row that does not say is not new.
            new=getattr(p, "reviewed_at", False) is None,
        )
        for p in rows
    ]


def diary_of(
    patient_id: int,
    tz: str,
    page: int,
    size: int = PAGE,
    numbers: dict[int, int] | None = None,
    on: date | None = None,
) -> PhotoDiary:
    """One page of a patient's photos by day, newest first.

    One statement brings the page and the total (a window count), so a page asks for
    what it shows and no more; only a page past the end (an old link after deletions)
    costs a second one, for the last page. ``numbers``: the session numbers, when the
    caller has them (``numbered``); otherwise they are read. ``on``: only the photos
    taken that day (the clinician's diary links to a day with more than it shows).
    """
    page = max(page, 1)
    rows, total = _page_of(patient_id, page, size, on)
    last = max(1, -(-total // size))
    if page > last:
        page = last
        rows, total = _page_of(patient_id, page, size, on)
    found = numbers if numbers is not None else session_numbers(patient_id)
    return by_day(tz, items(rows, found), total, page, on)


def by_day(
    tz: str, shown: list[PhotoItem], total: int, page: int, on: date | None = None
) -> PhotoDiary:
    """A page of photo items (newest first) grouped by the day they were taken."""
    days: list[PhotoDay] = []
    for item in shown:
        if days and days[-1].on == item.taken_on:
            days[-1].photos.append(item)
        else:
            days.append(PhotoDay(item.taken_on, item.when, [item]))
    return PhotoDiary(tz, days, total, page, on)


def _page_of(
    patient_id: int, page: int, size: int, on: date | None = None
) -> tuple[list[Photo], int]:
    """Photos of page ``page`` (of day ``on`` only, when given) with the photo count
    beside each row (0 photos: no rows; a page past the end: no rows, so the count
    comes from a plain COUNT)."""
    total = sa.func.count().over().label("total")
    where = Photo.patient_id == patient_id
    if on is not None:
        where = sa.and_(where, Photo.taken_on == on)
    result = db.session.execute(
        sa.select(Photo, total)
        .where(where)
        .order_by(Photo.taken_at.desc(), Photo.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    if result:
        return [photo for photo, _ in result], result[0].total
    if page == 1:
        return [], 0
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Photo).where(where)) or 0
    return [], count


def comparison_of(
    patient_id: int, tz: str, site: Site | None, left: int | None, right: int | None
) -> Comparison:
    """Two of a patient's photos of one site (by default its first and latest)."""
    counts = db.session.execute(
        sa.select(Photo.side, Photo.region, Photo.view, sa.func.count())
        .where(Photo.patient_id == patient_id)
        .group_by(Photo.side, Photo.region, Photo.view)
        .order_by(Photo.side, Photo.region, Photo.view)
    )
    sites = [(Site(s, r, v), n) for s, r, v, n in counts]
    if site is None or site not in {s for s, _ in sites}:
        site = next((s for s, n in sites if n > 1), sites[0][0] if sites else None)
    if site is None:
        return Comparison(tz, [], None, [], None, None)
    rows = db.session.scalars(
        sa.select(Photo)
        .where(
            Photo.patient_id == patient_id,
            Photo.side == site.side,
            Photo.region == site.region,
            Photo.view == site.view,
        )
        .order_by(Photo.taken_at, Photo.id)
    )
    choices = items(rows, session_numbers(patient_id))
    by_id = {c.id: c for c in choices}
    first = by_id.get(left or 0, choices[0])
    second = by_id.get(right or 0, choices[-1])
    return Comparison(tz, sites, site, choices, first, second)
