"""Clinician use-cases for reviewing diaries: the triage dashboard, a patient's diary,
acknowledging alerts, marking days reviewed, comments, and the audit trail.

Every query is scoped to the clinician's clinic and paged, so a page costs the same
few statements for a clinic of 100 patients or of 10,000 (bench/clinician_dashboard.py).
Every view of a patient's data, and every refused attempt, writes an audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload

from app.domain.offsets import local_date
from app.domain.recovery import ChecklistView
from app.domain.recovery import build_checklist
from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Comment
from app.models import Patient
from app.models import Photo
from app.models import TaskTick
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import audit_views
from app.services.audit import own_patient
from app.services.audit import refuse
from app.services.care.followup import FOLLOW_DAYS
from app.services.errors import Invalid
from app.services.notify.enqueue import enqueue_comment
from app.services.notify.subscriptions import DeliveryState
from app.services.notify.subscriptions import delivery_state
from app.services.protocols import protocol_by_version

PAGE = 20
# Sections a clinician works through page by page count at most this many rows, then say
# "more than 100": past five pages an exact figure changes nothing they do, and counting
# thousands of rows would make the dashboard slower the larger the clinic.
COUNT_CAP = 100
MISSED_DAYS = 2
UPCOMING_DAYS = 14
NOTE_MAX = 2000  # acknowledgement notes and comments, as the forms' maxlength says


# ------------------------------------------------------------------ dashboard


@dataclass(frozen=True)
class Section:
    """One dashboard section: a page of rows and the total count.

    ``capped``: there are more than ``total`` rows (the count stopped there); the pages
    after ``pages`` exist but were not counted.
    """

    rows: list[sa.Row]
    total: int
    page: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.capped


@dataclass(frozen=True)
class Dashboard:
    alerts: Section
    checkins: Section
    photos: Section
    missed: Section
    upcoming: Section


def _page(query: sa.Select, count: sa.Select, page: int) -> Section:
    total = db.session.scalar(count) or 0
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    rows = list(db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)))
    return Section(rows, total, page)


def _capped_total(matching: sa.Select, page: int) -> tuple[int, bool]:
    """How many rows ``matching`` selects, counting no further than ``COUNT_CAP`` rows or
    the end of the requested page (whichever is further), so there is always a next page
    to offer when one exists. :returns: (rows counted, whether more were left uncounted)."""
    known = max(COUNT_CAP, max(page, 1) * PAGE)
    counted = (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(matching.limit(known + 1).subquery())
        )
        or 0
    )
    return min(counted, known), counted > known


def _capped_page(query: sa.Select, matching: sa.Select, page: int) -> Section:
    """A page of ``query`` with a count capped as in ``_capped_total``."""
    total, capped = _capped_total(matching, page)
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    rows = list(db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)))
    return Section(rows, total, page, capped)


def dashboard(actor: Principal, now: datetime, pages: dict[str, int], address: str) -> Dashboard:
    """The triage dashboard: open alerts (most severe, then oldest, first), check-ins
    and photos awaiting review, patients who missed two or more check-ins, upcoming
    sessions.

    Alerts are counted exactly (each needs acknowledging); the other sections count up to
    ``COUNT_CAP``. The page shows names and answers, so each patient on it gets a "view"
    audit event. Eleven statements whatever the clinic's size (a count and a page per
    section, one insert of the audit events).
    """
    clinic = actor.clinic_id
    board = Dashboard(
        alerts=_alerts(clinic, pages.get("alerts", 1)),
        checkins=_new_checkins(clinic, pages.get("checkins", 1)),
        photos=_new_photos(clinic, pages.get("photos", 1)),
        missed=_missed(clinic, now, pages.get("missed", 1)),
        upcoming=_upcoming(clinic, now, pages.get("upcoming", 1)),
    )
    shown = dict.fromkeys(
        row.patient_id
        for section in (board.alerts, board.checkins, board.photos, board.missed, board.upcoming)
        for row in section.rows
    )
    audit_views(actor, list(shown), address, "dashboard")
    db.session.commit()
    return board


def _named(model: type[Alert | CheckIn | Photo | Treatment], *columns: Any) -> sa.Select:
    """``columns`` of ``model`` with the patient's id and name, as each section lists them."""
    return (
        sa.select(*columns, Patient.id.label("patient_id"), User.name)
        .join(Patient, Patient.id == model.patient_id)
        .join(User, User.id == Patient.user_id)
    )


def _alerts(clinic: int, page: int) -> Section:
    where = (Alert.clinic_id == clinic, Alert.acknowledged_at.is_(None))
    query = (
        # The patient's phone comes along so a call-back is one tap (issue 14 point 11).
        _named(Alert, Alert.id, Alert.level, Alert.reasons, Alert.created_at, Patient.phone)
        .where(*where)
        .order_by(Alert.severity, Alert.created_at, Alert.id)
    )
    return _page(query, sa.select(sa.func.count()).select_from(Alert).where(*where), page)


def _new_checkins(clinic: int, page: int) -> Section:
    where = (CheckIn.clinic_id == clinic, CheckIn.reviewed_at.is_(None))
    query = (
        _named(CheckIn, CheckIn.id, CheckIn.day, CheckIn.level, CheckIn.pain, CheckIn.updated_at)
        .where(*where)
        .order_by(CheckIn.created_at, CheckIn.id)
    )
    return _capped_page(query, sa.select(CheckIn.id).where(*where), page)


def _new_photos(clinic: int, page: int) -> Section:
    """Photos no clinician has looked at yet, oldest first (``ix_photos_unreviewed``)."""
    where = (Photo.clinic_id == clinic, Photo.reviewed_at.is_(None))
    columns = (Photo.phase, Photo.day, Photo.side, Photo.region, Photo.view, Photo.created_at)
    query = _named(Photo, Photo.id, *columns).where(*where).order_by(Photo.created_at, Photo.id)
    return _capped_page(query, sa.select(Photo.id).where(*where), page)


def _missed(clinic: int, now: datetime, page: int) -> Section:
    """Patients in their four weeks of follow-up not heard from for two days or more.

    Reads the follow-up state kept on each patient (app/services/care/followup.py) through
    ``ix_patients_last_seen``, so it costs the same whatever the number of check-ins.
    A patient is last seen no earlier than their latest treatment, which is at most
    FOLLOW_DAYS before ``follow_until``: so whoever is still followed was last seen in the
    last FOLLOW_DAYS. Saying so makes the search a short range of the index, read in the
    order shown, instead of every patient followed (most of whom checked in today).
    """
    where = (
        Patient.clinic_id == clinic,
        Patient.last_seen_at >= now - timedelta(days=FOLLOW_DAYS),
        Patient.last_seen_at <= now - timedelta(days=MISSED_DAYS),
        Patient.follow_until >= now,
    )
    total, capped = _capped_total(sa.select(Patient.id).where(*where), page)
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    # Page first, then the dates the clinician reads, for the (at most 20) shown rows only.
    shown = (
        sa.select(Patient.id, Patient.user_id, Patient.last_seen_at)
        .where(*where)
        .order_by(Patient.last_seen_at, Patient.id)
        .limit(PAGE)
        .offset((page - 1) * PAGE)
        .subquery()
    )
    last_checkin = (
        sa.select(sa.func.max(CheckIn.updated_at))
        .where(CheckIn.patient_id == shown.c.id)
        .scalar_subquery()
    )
    treated_at = (
        sa.select(sa.func.max(Treatment.treated_at))
        .where(Treatment.patient_id == shown.c.id, Treatment.status == TreatmentStatus.DONE)
        .scalar_subquery()
    )
    query = (
        sa.select(
            shown.c.id.label("patient_id"),
            User.name,
            treated_at.label("treated_at"),
            last_checkin.label("last_checkin"),
        )
        .join(User, User.id == shown.c.user_id)
        .order_by(shown.c.last_seen_at, shown.c.id)
    )
    return Section(list(db.session.execute(query)), total, page, capped)


def _upcoming(clinic: int, now: datetime, page: int) -> Section:
    where = (
        Patient.clinic_id == clinic,
        Treatment.status == TreatmentStatus.SCHEDULED,
        Treatment.appointment_at >= now,
        Treatment.appointment_at < now + timedelta(days=UPCOMING_DAYS),
    )
    query = (
        _named(Treatment, Treatment.id, Treatment.appointment_at, Patient.timezone)
        .where(*where)
        .order_by(Treatment.appointment_at, Treatment.id)
    )
    matching = sa.select(Treatment.id).join(Patient).where(*where)
    return _capped_page(query, matching, page)


def open_alert_count(actor: Principal) -> int:
    """For the badge in the clinician's navigation."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Alert)
            .where(Alert.clinic_id == actor.clinic_id, Alert.acknowledged_at.is_(None))
        )
        or 0
    )


# ------------------------------------------------------------------ one patient

DIARY_DAYS = 28  # days per page of a patient's diary: the four weeks of one recovery
CHART_CHECKINS = 28  # check-ins on the pain and bruising chart
MAX_DIARY_PAGE = 100_000  # far beyond any diary; keeps the SQL offset a small number
BRUISING_SCORE = {"none": 0, "mild": 1, "moderate": 2, "severe": 3}


@dataclass(frozen=True)
class DiaryDay:
    """One day of a patient's diary: a day they checked in, took a photo or ticked a
    daily task. A patient who skips the check-in but photographs a bruise is still seen.
    """

    on_date: date  # the patient's own calendar date
    checkins: list[CheckIn]  # newest first: usually one, none if they did not check in
    photos: list[Photo]  # oldest first
    tasks: list[str]  # daily tasks ticked, by their titles in the session's protocol
    # Where the day sits in the course, for a day without a check-in (a check-in says its
    # own day): "Day 4" after a session, "Before treatment", or "" outside any session.
    when: str = ""


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


class _PlusDays(sa.sql.functions.FunctionElement[date]):
    """``start + days`` for a date and a whole number of days, in either database."""

    type = sa.Date()
    name = "plus_days"
    inherit_cache = True


@compiles(_PlusDays)
def _plus_days(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    # PostgreSQL: date + integer is a date.
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({start} + {days})"


@compiles(_PlusDays, "sqlite")
def _plus_days_sqlite(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    # SQLite keeps dates as ISO text, which date() returns too (so UNION and IN compare
    # like with like); the modifier reads "3 days" or "-3 days".
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({start}, {days} || ' days')"


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
    # Day 0 of each session in the patient's calendar, as app/services/diary.py dates a
    # check-in (local date of the anchor + day). Done here, not in SQL: neither database
    # can be relied on to apply the patient's time zone rules the same way.
    tz = ZoneInfo(patient.timezone)
    starts = {t.id: local_date(t.anchor, tz) for t in sessions}
    tick_date = _tick_date(starts)
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
            photos=photos.get(on, []),
            tasks=[title(tid, key) for tid, _, key in ticks.get(on, [])],
            when=_when(ticks.get(on, []), photos.get(on, []), starts),
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


def _tick_date(starts: dict[int, date]) -> sa.ColumnElement[date]:
    """SQL for the patient's date of a task tick: the date of the check-in of the same
    session and day if there is one (a check-in keeps the date it was sent on, even if
    the treatment time is corrected later), else the session's day 0 plus its day."""
    if not starts:  # no session, so no ticks: a date (typed, for the UNION) that is NULL
        return _PlusDays(sa.cast(sa.null(), sa.Date), TaskTick.day)
    start = sa.case(
        {tid: sa.literal(on, sa.Date) for tid, on in starts.items()}, value=TaskTick.treatment_id
    )
    # One index lookup per tick (uq_checkins_treatment_day); a patient has a few hundred.
    checked_in = (
        sa.select(CheckIn.on_date)
        .where(CheckIn.treatment_id == TaskTick.treatment_id, CheckIn.day == TaskTick.day)
        .scalar_subquery()
    )
    return sa.func.coalesce(checked_in, _PlusDays(start, TaskTick.day), type_=sa.Date)


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


def acknowledge(
    actor: Principal, alert_id: int, note: str, address: str, now: datetime, share: bool = False
) -> Alert:
    """Acknowledge an alert with a note (idempotent: the first acknowledgement stays).

    :param share: show the note to the patient on Today (a note left empty shares nothing).
    :raises Invalid: for a note over ``NOTE_MAX`` characters (nothing is cut short), and
        for an emergency alert without a note: acknowledging one is a safety action, so
        the clinician must say what was done (issue 14 point 11).
    """
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"acknowledge alert #{alert_id}", "No such alert.")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid("note", f"Please keep the note under {NOTE_MAX:,} characters.")
    if not note and alert.level == "emergency" and alert.acknowledged_at is None:
        raise Invalid(
            "note",
            "Write a note to acknowledge an emergency alert: what was done, for example "
            "'Called the patient, advised to go to A&E'.",
        )
    if alert.acknowledged_at is None:
        # Only if nobody acknowledged it since it was read: two clinicians at once must
        # not overwrite the first one's note, time and name (the first stays).
        shared_note = share and bool(note)
        won = db.session.execute(
            sa.update(Alert)
            .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
            .values(
                acknowledged_at=now,
                acknowledged_by_id=actor.id,
                ack_note=note,
                note_shared=shared_note,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if won:
            shared = " (note shared with the patient)" if shared_note else ""
            audit(actor, alert.patient_id, "acknowledge", address, f"alert #{alert.id}{shared}")
    db.session.commit()
    db.session.refresh(alert)
    return alert


class ChangedSinceSeen(Invalid):
    """The patient changed a check-in after the clinician's page showed it."""

    def __init__(self, checkin: CheckIn):
        super().__init__(
            "seen",
            "The patient changed this day's answers after you opened the page. "
            "Please read them again before marking the day reviewed.",
        )
        self.checkin = checkin


def mark_reviewed(
    actor: Principal,
    checkin_id: int,
    address: str,
    now: datetime,
    seen: str | None = None,
    photos_upto: int | None = None,
) -> CheckIn:
    """Mark a diary day as reviewed, with the photos taken that day (idempotent).

    :param seen: the check-in's ``updated_at`` as the clinician's page showed it; the
        patient may have changed the answers since, from a phone (issue 15 point 3), and
        answers nobody has looked at must not be marked as seen.
    :param photos_upto: the newest photo id the page showed for the day: a photo sent
        after the page was opened waits for its own look.
    :raises ChangedSinceSeen: when the answers changed after the page was opened.
    """
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None or checkin.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"review check-in #{checkin_id}", "No such check-in.")
    if seen is not None and seen != checkin.updated_at.isoformat():
        raise ChangedSinceSeen(checkin)
    if checkin.reviewed_at is None:
        checkin.reviewed_at, checkin.reviewed_by_id = now, actor.id
        audit(actor, checkin.patient_id, "review", address, f"day {checkin.day}")
    # The day's photos are shown with it on the patient page, so they are seen too.
    _mark_photos_of_day(actor, checkin.patient_id, checkin.on_date, now, photos_upto)
    db.session.commit()
    return checkin


def mark_photo_reviewed(actor: Principal, photo_id: int, address: str, now: datetime) -> Photo:
    """Mark one photo as looked at (idempotent)."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"review photo #{photo_id}", "No such photo.")
    if photo.reviewed_at is None:
        photo.reviewed_at, photo.reviewed_by_id = now, actor.id
        audit(actor, photo.patient_id, "review", address, f"photo #{photo.id}")
    db.session.commit()
    return photo


def mark_day_photos_reviewed(
    actor: Principal,
    patient_id: int,
    on: str,
    address: str,
    now: datetime,
    photos_upto: int | None = None,
) -> date:
    """Mark a patient's photos of one day as looked at: for a diary day without a
    check-in, which has no "Mark day reviewed" (idempotent).

    :param on: the day as the page sent it (ISO date).
    :param photos_upto: the newest photo id the page showed (later ones are not seen).
    :raises Invalid: for a date that is not one.
    """
    patient = own_patient(actor, patient_id, address, "review photos of")
    try:
        day = date.fromisoformat(on)
    except ValueError:
        raise Invalid("on", "That day could not be read; please reload the page.") from None
    if _mark_photos_of_day(actor, patient.id, day, now, photos_upto):
        audit(actor, patient.id, "review", address, f"photos of {day.isoformat()}")
    db.session.commit()
    return day


def _mark_photos_of_day(
    actor: Principal, patient_id: int, on: date, now: datetime, upto: int | None = None
) -> int:
    """Mark the patient's photos of one day reviewed, up to photo id ``upto`` (the
    newest the clinician's page showed) when given; :returns: how many were new."""
    shown = Photo.id <= upto if upto is not None else sa.true()
    return db.session.execute(
        sa.update(Photo)
        .where(
            Photo.patient_id == patient_id,
            Photo.taken_on == on,
            Photo.reviewed_at.is_(None),
            shown,
        )
        .values(reviewed_at=now, reviewed_by_id=actor.id)
    ).rowcount


def add_comment(
    actor: Principal, patient_id: int, body: str, address: str, now: datetime
) -> Comment:
    """Write a comment into the patient's diary and queue a (generic) notification."""
    patient = own_patient(actor, patient_id, address, "comment on")
    text = body.strip()
    if not text:
        raise Invalid("body", "Write a comment first.")
    if len(text) > NOTE_MAX:
        raise Invalid("body", f"Please keep comments under {NOTE_MAX:,} characters.")
    comment = Comment(
        patient_id=patient.id, author_id=actor.id, author_name=actor.name, body=text, created_at=now
    )
    db.session.add(comment)
    db.session.flush()
    enqueue_comment(comment, patient, now)
    audit(actor, patient.id, "comment", address)
    db.session.commit()
    return comment


def audit_log(actor: Principal, page: int) -> Section:
    """The clinic's audit trail, newest first (clinic admins only; checked by the view)."""
    where = (AuditEvent.clinic_id == actor.clinic_id,)
    query = (
        sa.select(
            AuditEvent.created_at,
            AuditEvent.actor_name,
            AuditEvent.action,
            AuditEvent.detail,
            AuditEvent.address,
            AuditEvent.patient_id,
            User.name.label("patient_name"),
        )
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        .outerjoin(User, User.id == Patient.user_id)
        .where(*where)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return _page(query, sa.select(sa.func.count()).select_from(AuditEvent).where(*where), page)


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
