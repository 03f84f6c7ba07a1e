"""The patient's own diary page: their check-ins, the clinic's comments, who at the
clinic has looked, and (beside them) the latest days of their photo diary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import Comment
from app.models import Patient
from app.models import Photo
from app.models import User
from app.principal import Principal
from app.services.care.course import Course
from app.services.care.course import load_course
from app.services.photos.listing import PhotoDiary
from app.services.photos.listing import by_day
from app.services.photos.listing import items
from app.services.photos.listing import numbered

# Photos the diary page shows (its first days); the photo diary page has them all.
DIARY_PAGE_PHOTOS = 6


@dataclass(frozen=True)
class DiaryView:
    """The patient's own diary: check-ins, clinic comments, and who viewed it."""

    course: Course
    checkins: list[CheckIn]
    comments: list[DiaryComment]
    viewers: list[Viewer]
    # The newest acknowledgement of the patient's alerts, as read with the comments.
    acknowledged_at: datetime | None = None

    @property
    def messages_upto(self) -> datetime | None:
        """The newest clinic message this read saw: the instant the page marks the
        messages seen up to. Not the page's own draw time: a comment stamped before it
        but committed after the read was never shown, and must stay new on Today."""
        times = [c.created_at for c in self.comments]
        if self.acknowledged_at is not None:
            times.append(self.acknowledged_at)
        return max(times, default=None)


@dataclass(frozen=True)
class DiaryComment:
    """A comment the clinic wrote into the diary, as the page shows it."""

    author_name: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Viewer:
    """Someone at the clinic who looked: in the review list only, or at the diary itself."""

    name: str
    in_list_only: bool
    last_at: datetime


def diary(user: Principal) -> DiaryView:
    """Everything in the patient's diary, newest first (no photos: ``diary_page``)."""
    return _diary(user, 0)[0]


def _diary(user: Principal, photos: int) -> tuple[DiaryView, PhotoDiary]:
    """The diary and the photo diary's first ``photos`` photos in two statements: the
    check-ins, then the comments, the viewers and the photos as one UNION ALL (issue 22
    point 3: at most three statements on a patient page, the sign-in check included)."""
    course = load_course(user)
    pid = course.patient.id
    checkins = list(
        db.session.scalars(
            sa.select(CheckIn).where(CheckIn.patient_id == pid).order_by(CheckIn.on_date.desc())
        )
    )
    comments: list[DiaryComment] = []
    viewers: list[Viewer] = []
    shown: list[SimpleNamespace] = []
    total = 0
    acknowledged_at = None
    for row in db.session.execute(_notes_query(pid, photos)):
        if row.kind == "ack":
            acknowledged_at = row.at
        elif row.kind == "comment":
            comments.append(DiaryComment(row.name, row.body or "", row.at))
        elif row.kind == "viewer":
            viewers.append(Viewer(row.name, bool(row.flag), row.at))
        else:
            total = row.flag
            shown.append(_photo(row))
    numbers = numbered((t.id, t.status) for t in course.sessions)
    album = by_day(course.patient.timezone, items(shown, numbers), total, 1)
    return DiaryView(course, checkins, comments, viewers, acknowledged_at), album


def _photo(row: sa.Row) -> SimpleNamespace:
    """A photo row of the union, with the attributes ``listing.items`` reads."""
    return SimpleNamespace(
        id=row.key,
        side=row.side,
        region=row.region,
        view=row.view,
        taken_at=row.at,
        taken_on=row.taken_on,
        phase=row.phase,
        day=row.day,
        treatment_id=row.treatment_id,
        note=row.body or "",
        width=row.width,
        height=row.height,
    )


def _holder_since(pid: int) -> Any:
    """When the patient's account was made. The audit trail names patients by id and
    outlives an erased record (app/services/clinic/retention.py); SQLite gives a new
    row the id of an erased last one, so only events since then are this patient's."""
    return (
        sa.select(User.created_at)
        .join(Patient, Patient.user_id == User.id)
        .where(Patient.id == pid)
        .scalar_subquery()
    )


def _notes_query(pid: int, photos: int) -> sa.Select:
    """The clinic's comments, the newest acknowledgement of an alert, the diary's viewers
    and the first ``photos`` photos as one UNION ALL, each kind newest first. Columns:
    kind, key, at, name, body, flag (a viewer: 1 when seen in the review list only; a
    photo: the patient's photo count), then the photo's own (NULL for the other kinds)."""
    s, i = sa.String, sa.Integer

    def null(kind: Any) -> Any:
        return sa.cast(sa.null(), kind)

    def photo_nulls() -> list[Any]:
        return [
            null(s).label("side"),
            null(s).label("region"),
            null(s).label("view"),
            null(s).label("phase"),
            null(i).label("day"),
            null(i).label("treatment_id"),
            null(sa.Date).label("taken_on"),
            null(i).label("width"),
            null(i).label("height"),
        ]

    comments = sa.select(
        sa.literal("comment", s).label("kind"),
        Comment.id.label("key"),
        Comment.created_at.label("at"),
        Comment.author_name.label("name"),
        Comment.body.label("body"),
        sa.literal(0, i).label("flag"),
        *photo_nulls(),
    ).where(Comment.patient_id == pid)
    # One row (its "at" NULL when there is none): what the page marks seen reaches it.
    acknowledged = sa.select(
        sa.literal("ack", s).label("kind"),
        sa.literal(0, i).label("key"),
        sa.func.max(Alert.acknowledged_at).label("at"),
        null(s).label("name"),
        null(sa.Text).label("body"),
        sa.literal(0, i).label("flag"),
        *photo_nulls(),
    ).where(Alert.patient_id == pid)
    # One line per person and kind of look, with the latest time: every dashboard view
    # lists the patient (and is audited), so raw events would bury the diary openings.
    listed = sa.case((AuditEvent.detail == "dashboard", 1), else_=0)
    last = sa.func.max(AuditEvent.created_at)
    key = sa.func.max(AuditEvent.id)
    viewers = (
        sa.select(
            sa.literal("viewer", s).label("kind"),
            key.label("key"),
            last.label("at"),
            AuditEvent.actor_name.label("name"),
            null(sa.Text).label("body"),
            listed.label("flag"),
            *photo_nulls(),
        )
        .where(AuditEvent.patient_id == pid, AuditEvent.created_at >= _holder_since(pid))
        .group_by(AuditEvent.actor_id, AuditEvent.actor_name, listed)
        # Same-instant stamps (a pinned clock, one busy second) keep their order.
        .order_by(last.desc(), key.desc())
        .limit(20)
        .subquery()
    )
    first_photos = (
        sa.select(
            sa.literal("photo", s).label("kind"),
            Photo.id.label("key"),
            Photo.taken_at.label("at"),
            null(s).label("name"),
            Photo.note.label("body"),
            sa.func.count().over().label("flag"),
            Photo.side,
            Photo.region,
            Photo.view,
            Photo.phase,
            Photo.day,
            Photo.treatment_id,
            Photo.taken_on,
            Photo.width,
            Photo.height,
        )
        .where(Photo.patient_id == pid)
        .order_by(Photo.taken_at.desc(), Photo.id.desc())
        .limit(photos)
        .subquery()
    )
    both = sa.union_all(
        comments, acknowledged, sa.select(viewers), sa.select(first_photos)
    ).subquery()
    return sa.select(both).order_by(both.c.kind, both.c.at.desc(), both.c.key.desc())


@dataclass(frozen=True)
class DiaryPage:
    """What the diary page shows: the diary itself and the first page of photos."""

    diary: DiaryView
    photos: PhotoDiary


def diary_page(user: Principal) -> DiaryPage:
    """The patient's diary page in one call: the diary, then the photo diary's first
    ``DIARY_PAGE_PHOTOS`` photos (the same reads as each on its own)."""
    view, photos = _diary(user, DIARY_PAGE_PHOTOS)
    return DiaryPage(view, photos)
