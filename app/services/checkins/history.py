"""The patient's own diary page: their check-ins, the clinic's comments, who at the
clinic has looked, and (beside them) the latest days of their photo diary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import CheckIn
from app.models import Comment
from app.principal import Principal
from app.services.care.course import Course
from app.services.care.course import load_course
from app.services.photos import album
from app.services.photos.listing import PhotoDiary

# Photos the diary page shows (its first days); the photo diary page has them all.
DIARY_PAGE_PHOTOS = 6


@dataclass(frozen=True)
class DiaryView:
    """The patient's own diary: check-ins, clinic comments, and who viewed it."""

    course: Course
    checkins: list[CheckIn]
    comments: list[Comment]
    viewers: list[Viewer]


@dataclass(frozen=True)
class Viewer:
    """Someone at the clinic who looked: in the review list only, or at the diary itself."""

    name: str
    in_list_only: bool
    last_at: datetime


def diary(user: Principal) -> DiaryView:
    """Everything in the patient's diary, newest first."""
    course = load_course(user)
    pid = course.patient.id
    checkins = list(
        db.session.scalars(
            sa.select(CheckIn).where(CheckIn.patient_id == pid).order_by(CheckIn.on_date.desc())
        )
    )
    comments = list(
        db.session.scalars(
            sa.select(Comment)
            .where(Comment.patient_id == pid)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
        )
    )
    # One line per person and kind of look, with the latest time: every dashboard view
    # lists the patient (and is audited), so raw events would bury the diary openings.
    listed = (AuditEvent.detail == "dashboard").label("in_list")
    last = sa.func.max(AuditEvent.created_at)
    viewers = [
        Viewer(name, bool(in_list), at)
        for name, in_list, at in db.session.execute(
            sa.select(AuditEvent.actor_name, listed, last)
            .where(AuditEvent.patient_id == pid)
            .group_by(AuditEvent.actor_id, AuditEvent.actor_name, listed)
            # Same-instant stamps (a pinned clock, one busy second) keep their order.
            .order_by(last.desc(), sa.func.max(AuditEvent.id).desc())
            .limit(20)
        )
    ]
    return DiaryView(course, checkins, comments, viewers)


@dataclass(frozen=True)
class DiaryPage:
    """What the diary page shows: the diary itself and the first page of photos."""

    diary: DiaryView
    photos: PhotoDiary


def diary_page(user: Principal) -> DiaryPage:
    """The patient's diary page in one call: the diary, then the photo diary's first
    ``DIARY_PAGE_PHOTOS`` photos (the same reads as each on its own)."""
    return DiaryPage(diary(user), album.diary(user, 1, DIARY_PAGE_PHOTOS))
