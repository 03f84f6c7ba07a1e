"""The clinician's record of one patient's recovery: the days of the patient's diary
(check-ins, photos and daily tasks, a page at a time), the pain and bruising chart, and
the whole patient page built around them (sessions, reminder delivery, next checklist).

Opening it is a "view" of the patient's data, so it writes an audit event first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.domain.offsets import local_date
from app.domain.recovery import ChecklistView
from app.domain.recovery import build_checklist
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Comment
from app.models import Patient
from app.models import Photo
from app.models import TaskTick
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.notify.subscriptions import DeliveryState
from app.services.notify.subscriptions import delivery_state
from app.services.protocols import protocol_by_version
from app.services.review.sql_dates import tick_date_column

DIARY_DAYS = 28  # days per page of a patient's diary: the four weeks of one recovery
CHART_CHECKINS = 28  # check-ins on the pain and bruising chart
# Thumbnails per diary day: a patient who sends dozens of photos a day would otherwise
# make the page hundreds of images long (issue 22 point 5); the rest are one link away,
# on the patient's photo pages.
DAY_PHOTOS = 4
MAX_DIARY_PAGE = 100_000  # far beyond any diary; keeps the SQL offset a small number
BRUISING_SCORE = {"none": 0, "mild": 1, "moderate": 2, "severe": 3}


@dataclass(frozen=True)
class DiaryDay:
    """One day of a patient's diary: a day they checked in, took a photo or ticked a
    daily task. A patient who skips the check-in but photographs a bruise is still seen.
    """

    on_date: date  # the patient's own calendar date
    checkins: list[CheckIn]  # newest first: usually one, none if they did not check in
    # The photos the page shows (at most DAY_PHOTOS), oldest first: the day's new ones
    # first, newest first, then the newest of those already looked at.
    photos: list[Photo]
    tasks: list[str]  # daily tasks ticked, by their titles in the session's protocol
    # Where the day sits in the course, for a day without a check-in (a check-in says its
    # own day): "Day 4" after a session, "Before treatment", or "" outside any session.
    when: str = ""
    photo_count: int = 0  # all the day's photos, shown or not
    new_count: int = 0  # those no clinician has looked at, shown or not

    @property
    def new_unshown(self) -> int:
        """New photos of the day the page does not show: "Mark photos reviewed" leaves
        them new (it marks only the photos shown)."""
        return self.new_count - sum(1 for p in self.photos if p.reviewed_at is None)


@dataclass(frozen=True)
class PatientDiary:
    """A patient's diary for the clinician, newest day first, one page at a time."""

    patient: Patient
    days: list[DiaryDay]
    alerts: list[Alert]
    comments: list[Comment]
    chart: list[tuple[int, int, int]]  # (day, pain 0-10, bruising 0-3) oldest first
    more: bool
    page: int
    sessions: list[Treatment]  # every session, oldest first, with its protocol version


def patient_diary(actor: Principal, patient_id: int, address: str, page: int = 1) -> PatientDiary:
    """Open a patient's diary (audited). A page holds the 28 most recent days on which
    the patient checked in, took a photo or ticked a daily task.

    The same statements whatever the length of the diary: the sessions, the page's
    dates (one UNION of the three sources, paged in SQL), then the check-ins, photos and
    ticks of those dates (one each, even for an empty page), the alerts, the comments
    and the chart's check-ins.
    """
    patient = own_patient(actor, patient_id, address, "view")
    # Record the view first: committing after loading would expire the loaded rows and
    # the page would reload each of them (an N+1 that grows with the diary).
    audit(actor, patient.id, "view", address, "diary")
    db.session.commit()
    page = min(max(page, 1), MAX_DIARY_PAGE)
    sessions = _sessions(patient.id)
    # Day 0 of each session in the patient's calendar, as app/services/checkins/submit.py
    # dates a check-in (local date of the anchor + day). Done here, not in SQL: neither
    # database can be relied on to apply the patient's time zone rules the same way.
    tz = ZoneInfo(patient.timezone)
    starts = {t.id: local_date(t.anchor, tz) for t in sessions}
    tick_date = tick_date_column(starts)
    dates = _page_dates(patient.id, starts, tick_date, page)
    more = len(dates) > DIARY_DAYS
    dates = dates[:DIARY_DAYS]

    checkins: dict[date, list[CheckIn]] = {}
    for checkin in db.session.scalars(
        sa.select(CheckIn)
        .where(CheckIn.patient_id == patient.id, CheckIn.on_date.in_(dates))
        .order_by(CheckIn.on_date.desc(), CheckIn.id.desc())
    ):
        checkins.setdefault(checkin.on_date, []).append(checkin)
    photos: dict[date, list[Photo]] = {}
    for photo in db.session.scalars(
        sa.select(Photo)
        .where(Photo.patient_id == patient.id, Photo.taken_on.in_(dates))
        .order_by(Photo.taken_at, Photo.id)
    ):
        photos.setdefault(photo.taken_on, []).append(photo)
    ticks: dict[date, list[tuple[int, int, str]]] = {}
    for treatment_id, day, key, on in db.session.execute(
        sa.select(TaskTick.treatment_id, TaskTick.day, TaskTick.task_key, tick_date)
        .where(TaskTick.treatment_id.in_(list(starts)), tick_date.in_(dates))
        .order_by(TaskTick.ticked_at)
    ):
        ticks.setdefault(on, []).append((treatment_id, day, key))

    title = _task_title(sessions)
    days = [
        DiaryDay(
            on_date=on,
            checkins=checkins.get(on, []),
            photos=shown_photos(photos.get(on, [])),
            tasks=[title(tid, key) for tid, _, key in ticks.get(on, [])],
            when=_when(ticks.get(on, []), photos.get(on, []), starts),
            photo_count=len(photos.get(on, [])),
            new_count=sum(1 for p in photos.get(on, []) if p.reviewed_at is None),
        )
        for on in dates
    ]
    alerts = list(
        db.session.scalars(
            sa.select(Alert)
            .options(joinedload(Alert.acknowledged_by))
            .where(Alert.patient_id == patient.id)
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(50)
        )
    )
    comments = list(
        db.session.scalars(
            sa.select(Comment)
            .where(Comment.patient_id == patient.id)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(50)
        )
    )
    chart = _chart(patient.id, dates[0] if dates else None)
    return PatientDiary(patient, days, alerts, comments, chart, more, page, sessions)


def shown_photos(photos: list[Photo], limit: int = DAY_PHOTOS) -> list[Photo]:
    """The photos of a day the diary shows, oldest first: new ones before those already
    looked at (they are what the clinician has to see), newest first within each."""
    ranked = sorted(photos, key=lambda p: (p.taken_at, p.id), reverse=True)
    ranked.sort(key=lambda p: p.reviewed_at is not None)  # stable: keeps newest first
    return sorted(ranked[:limit], key=lambda p: (p.taken_at, p.id))


def _chart(patient_id: int, upto: date | None) -> list[tuple[int, int, int]]:
    """The latest check-ins up to the page's newest day, oldest first: a page of photo-
    and tick-only days still shows how pain and bruising went (one statement)."""
    query = sa.select(CheckIn.day, CheckIn.pain, CheckIn.bruising).where(
        CheckIn.patient_id == patient_id
    )
    if upto is not None:
        query = query.where(CheckIn.on_date <= upto)
    rows = db.session.execute(
        query.order_by(CheckIn.on_date.desc(), CheckIn.id.desc()).limit(CHART_CHECKINS)
    ).all()
    return [(day, pain, BRUISING_SCORE.get(bruising, 0)) for day, pain, bruising in rows[::-1]]


def _sessions(patient_id: int) -> list[Treatment]:
    """All the patient's sessions, oldest first, each with its protocol version in the
    same statement (the page reads every session's protocol: names, tasks, checklist)."""
    return list(
        db.session.scalars(
            sa.select(Treatment)
            .options(joinedload(Treatment.protocol_version))
            .where(Treatment.patient_id == patient_id)
            .order_by(Treatment.appointment_at, Treatment.id)
        )
    )


def _page_dates(
    patient_id: int, starts: dict[int, date], tick_date: sa.ColumnElement[date], page: int
) -> list[date]:
    """The dates of one page of the diary, newest first, and one more if there are more:
    one statement, reading each source through an index on the patient (check-ins,
    photos) or the session (ticks, by their primary key)."""
    on = sa.union(
        sa.select(CheckIn.on_date.label("on_date")).where(CheckIn.patient_id == patient_id),
        sa.select(Photo.taken_on).where(Photo.patient_id == patient_id),
        sa.select(tick_date).where(TaskTick.treatment_id.in_(list(starts))),
    ).subquery()
    return list(
        db.session.scalars(
            sa.select(on.c.on_date)
            .order_by(on.c.on_date.desc())
            .limit(DIARY_DAYS + 1)
            .offset((page - 1) * DIARY_DAYS)
        )
    )


def _task_title(sessions: list[Treatment]) -> Callable[[int, str], str]:
    """A task's title in its session's protocol (the key if the protocol lost it)."""
    versions = {t.id: t.protocol_version for t in sessions}
    named: dict[int, dict[str, str]] = {}  # titles by session, read once each

    def title(treatment_id: int, key: str) -> str:
        if treatment_id not in named:
            v = versions[treatment_id]
            protocol = protocol_by_version(v.id, v.sha256, v.source_text)
            named[treatment_id] = {task.key: task.title for task in protocol.tasks}
        return named[treatment_id].get(key, key)

    return title


def _when(ticks: list[tuple[int, int, str]], photos: list[Photo], starts: dict[int, date]) -> str:
    """Where a day sits in the course: the day of its latest session's ticks, else of its
    last photo (taken before a session, or day N after one), else nothing."""
    if ticks:
        _, day, _ = max(ticks, key=lambda tick: starts[tick[0]])
        return f"Day {day}"
    placed = [p for p in photos if p.treatment_id is not None]
    if not placed:
        return ""
    last = placed[-1]
    if last.phase == "before":
        return "Before treatment"
    return f"Day {last.day}" if last.day is not None else ""


@dataclass(frozen=True)
class PatientPage:
    """Everything on the clinician's page for one patient."""

    diary: PatientDiary
    sessions: list[Treatment]
    delivery: DeliveryState
    checklist: ChecklistView | None  # of the next booked session


def patient_page(
    actor: Principal, patient_id: int, address: str, now: datetime, page: int = 1
) -> PatientPage:
    """The diary (audited), sessions, reminder delivery state and the next checklist."""
    diary = patient_diary(actor, patient_id, address, page)
    sessions = diary.sessions
    booked = sorted(
        (t for t in sessions if t.status == TreatmentStatus.SCHEDULED),
        key=lambda t: t.appointment_at,
    )
    checklist = None
    if booked:
        nxt = booked[0]
        ticked = set(
            db.session.scalars(
                sa.select(ChecklistTick.item_key).where(ChecklistTick.treatment_id == nxt.id)
            )
        )
        version = nxt.protocol_version
        protocol = protocol_by_version(version.id, version.sha256, version.source_text)
        tz = ZoneInfo(diary.patient.timezone)
        checklist = build_checklist(protocol, nxt.appointment_at, tz, now, ticked)
    return PatientPage(diary, sessions, delivery_state(diary.patient.id), checklist)
