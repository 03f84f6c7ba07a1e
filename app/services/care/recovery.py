"""Patient use-cases: the checklist, Today, the plan, and ticking things off.

Each page starts from the patient's course (``app/services/care/course.py``: the
session recovering from and the next one booked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.dbtypes import UTCDateTime
from app.domain.offsets import day_number
from app.domain.protocol import Protocol
from app.domain.protocol.stocking_marks import says_stockings_done
from app.domain.recovery import ChecklistView
from app.domain.recovery import PlanView
from app.domain.recovery import TodayView
from app.domain.recovery import build_checklist
from app.domain.recovery import build_plan
from app.domain.recovery import build_today
from app.domain.recovery import window
from app.domain.recovery.resolved_plan import carried_over
from app.domain.recovery.stockings import stocking_tasks
from app.domain.recovery.today_view import RestrictionToday
from app.domain.recovery.today_view import TaskToday
from app.extensions import db
from app.extensions import reads
from app.i18n import _
from app.models import Alert
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import TaskTick
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.care import messages as inbox
from app.services.care.course import Course
from app.services.care.course import load_course
from app.services.care.course import protocol_for
from app.services.care.protocol_text import for_reader
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_patient
from app.services.outcomes.rating import Prompt
from app.services.outcomes.rating import due_prompt


# What the patient did on one day, and the urgent advice still to show, in one statement
# (a round trip less on every Today view, bench/today_page.py): the check-in time, the
# ticked task keys, and the patient's alerts that are open or were acknowledged lately.
# Every row has the same columns; ``kind`` says which part it comes from. The NULLs are
# typed so PostgreSQL can match the parts' column types.
def _null(type_: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), type_)


_DAY_QUERY = sa.union_all(
    sa.select(
        sa.literal("checkin", sa.String).label("kind"),
        _null(sa.String).label("key"),
        CheckIn.updated_at.label("at"),
        _null(UTCDateTime()).label("seen_at"),
        _null(sa.Text).label("note"),
        _null(sa.Text).label("reasons"),
        _null(sa.String).label("who"),
        _null(sa.Integer).label("fresh"),
    ).where(
        CheckIn.treatment_id == sa.bindparam("treatment_id"), CheckIn.day == sa.bindparam("day")
    ),
    sa.select(
        sa.literal("tick", sa.String),
        TaskTick.task_key,
        _null(UTCDateTime()),
        _null(UTCDateTime()),
        _null(sa.Text),
        _null(sa.Text),
        _null(sa.String),
        _null(sa.Integer),
    ).where(
        TaskTick.treatment_id == sa.bindparam("treatment_id"), TaskTick.day == sa.bindparam("day")
    ),
    sa.select(
        sa.literal("alert", sa.String),
        Alert.level,
        Alert.created_at,
        Alert.acknowledged_at,
        # Only a note the clinician chose to share ever leaves the database for Today.
        sa.case((Alert.note_shared, Alert.ack_note), else_=sa.literal("", sa.Text)),
        sa.cast(Alert.reasons, sa.Text),
        inbox.ACKNOWLEDGED_BY,
        inbox.alert_is_new(),
    ).where(
        Alert.patient_id == sa.bindparam("patient_id"),
        sa.or_(Alert.acknowledged_at.is_(None), Alert.acknowledged_at >= sa.bindparam("since")),
    ),
    # The clinic's comments the patient has not seen yet (issue 19 point 3).
    inbox.comment_rows(_null),
)
# An acknowledgement stays on Today for this long, so the patient sees that the clinic
# saw their answers (and any note shared with them) even a few days later.
SEEN_SHOWN_FOR = timedelta(days=7)


@dataclass(frozen=True)
class AlertNotice:
    """An emergency or same-day result as Today shows it until, and after, the clinic
    has seen it (issue 14 point 4). ``note`` is only ever a note shared with the patient."""

    level: str
    reasons: tuple[str, ...]
    raised_at: datetime
    seen_at: datetime | None
    note: str


@dataclass(frozen=True)
class Earlier:
    """An earlier session's tasks and restrictions still running, which the latest
    session's plan does not cover (``carried_over``), as that session's own Today shows
    them (the same wording, details and ends as the main lists). Today follows the
    latest session; without these a session recorded a day after a 72-hour one took
    "wear your stockings until Thursday" off the page (adversarial review, 2026-12-07).
    """

    anchor: datetime
    tasks: tuple[TaskToday, ...]
    restrictions: tuple[RestrictionToday, ...]
    # One of its tasks is stocking wear (``stocking_tasks``).
    stockings: bool = False

    @property
    def active_tasks(self) -> tuple[TaskToday, ...]:
        return tuple(t for t in self.tasks if t.state == "now")

    @property
    def later_tasks(self) -> tuple[TaskToday, ...]:
        return tuple(t for t in self.tasks if t.state != "now")

    @property
    def until(self) -> datetime:
        """When the last of them ends: the offline page hides the card then."""
        return max(item.window.end for item in (*self.tasks, *self.restrictions))


@dataclass(frozen=True)
class TodayPage:
    """What Today shows. ``urgent``: alerts the clinic has not acknowledged yet, most
    severe first (their advice stays at the top); ``seen``: alerts acknowledged in the
    last ``SEEN_SHOWN_FOR``, newest first. ``messages``: the clinic's comments and
    acknowledgements the patient has not seen yet (issue 19 point 3).
    ``course_complete``: follow-up of the latest session is over and nothing else is
    booked (issue 14 point 9)."""

    course: Course
    today: TodayView | None
    checklist: ChecklistView | None
    checked_in_at: datetime | None = None
    urgent: tuple[AlertNotice, ...] = ()
    seen: tuple[AlertNotice, ...] = ()
    messages: inbox.Messages = inbox.Messages()
    # The done session whose outcome rating is due and not given (issue 19 point 6).
    rating_due: Prompt | None = None
    # Earlier sessions' aftercare still running, newest session first.
    earlier: tuple[Earlier, ...] = ()

    @property
    def course_complete(self) -> bool:
        return self.today is not None and self.today.follow_up_over and not self.course.upcoming

    @property
    def earlier_until(self) -> datetime | None:
        """When the last earlier session's card ends (Avoid's "nothing more" line)."""
        return max((e.until for e in self.earlier), default=None)

    @property
    def earlier_tasks_until(self) -> datetime | None:
        """When the last earlier task to do now ends (To do's "nothing to tick" line)."""
        ends = (t.window.end for e in self.earlier for t in e.active_tasks)
        return max(ends, default=None)

    @property
    def invite_checkin(self) -> bool:
        """Ask for today's check-in only while the session is followed up."""
        return self.today is not None and not self.today.follow_up_over


def today_page(user: Principal, now: datetime) -> TodayPage:
    """Today after treatment, plus the next appointment's checklist progress if booked,
    and the clinic's messages not seen yet (before treatment too)."""
    conn = reads()
    course = load_course(user, conn)
    t = course.recovering
    day = day_number(t.anchor, now, course.tz) if t is not None else None
    params = {
        # No session recovering: the check-in and tick parts match nothing.
        "treatment_id": t.id if t is not None else -1,
        "day": day if day is not None else -1,
        "patient_id": course.patient.id,
        "since": now - SEEN_SHOWN_FOR,
    }
    found = _DayRows()
    for row in conn.execute(_DAY_QUERY, params):
        found.add(*row)
    today, earlier = None, ()
    if t is not None:
        latest = for_reader(protocol_for(t))
        today = build_today(latest, t.anchor, course.tz, now, found.ticked)
        earlier = _earlier(course, latest, now)
        if any(e.stockings for e in earlier):
            # An earlier session's stockings still run: the latest session's "you no
            # longer need your stockings" would contradict its card (adversarial review,
            # 2026-12-08), so it waits until they are off too.
            # Read in the protocol's own words: the check knows English ones only.
            written = protocol_for(t).milestones
            done = {m.key for m in written if says_stockings_done(m)}
            kept = tuple(m for m in today.milestones if m.key not in done)
            today = replace(today, milestones=kept)
    found.urgent.sort(key=lambda a: (a.level != "emergency", -a.raised_at.timestamp()))
    found.seen.sort(key=lambda a: a.seen_at or a.raised_at, reverse=True)
    checklist = _checklist_for(course, now) if course.upcoming is not None else None
    return TodayPage(
        course,
        today,
        checklist,
        found.checked_in_at if today else None,
        tuple(found.urgent),
        tuple(found.seen),
        inbox.collect(found.comments, found.acknowledged),
        due_prompt(user, now, course),  # from the sessions read above
        earlier,
    )


def _earlier(course: Course, latest: Protocol, now: datetime) -> tuple[Earlier, ...]:
    """Every earlier recorded session's aftercare still running now and not covered by
    the latest session's plan (``latest``, in the reader's words); an item several of
    them run, once, under the session whose end is latest. Newest session first."""
    t = course.recovering
    assert t is not None
    before = sorted(
        (
            s
            for s in course.sessions
            if s.status == TreatmentStatus.DONE and s.id != t.id and s.anchor <= t.anchor
        ),
        key=lambda s: (s.anchor, s.id),
        reverse=True,
    )
    if not before:
        return ()
    read = {s.id: for_reader(protocol_for(s)) for s in before}
    earlier = [(read[s.id], s.anchor) for s in before]
    # Each title once, where it ends last; taken off as it is placed.
    ends = dict(carried_over(earlier, (latest, t.anchor), course.tz, now))
    groups = []
    for s in before:
        view = build_today(read[s.id], s.anchor, course.tz, now, frozenset())
        tasks = tuple(_take(view.tasks, ends))
        restrictions = tuple(_take(view.restrictions, ends))
        if tasks or restrictions:
            worn = stocking_tasks(read[s.id])
            stockings = any(task.key in worn for task in tasks)
            groups.append(Earlier(s.anchor, tasks, restrictions, stockings))
    return tuple(groups)


def _take(items, ends: dict[str, datetime]) -> list:  # noqa: ANN001 - tasks or restrictions
    """The items whose title and end are still in ``ends``, taking them out of it."""
    out = []
    for item in items:
        if ends.get(item.title) == item.window.end:
            del ends[item.title]
            out.append(item)
    return out


class _DayRows:
    """Today's query's rows, sorted into their parts."""

    def __init__(self) -> None:
        self.checked_in_at: datetime | None = None
        self.ticked: set[str] = set()
        self.urgent: list[AlertNotice] = []
        self.seen: list[AlertNotice] = []
        self.comments: list[inbox.ClinicComment] = []
        self.acknowledged: list[inbox.Acknowledged] = []

    def add(self, kind, key, at, seen_at, note, reasons, who, fresh) -> None:  # noqa: ANN001, PLR0913
        if kind == "checkin":
            self.checked_in_at = at
        elif kind == "tick":
            self.ticked.add(key)
        elif kind == "comment":
            self.comments.append(inbox.ClinicComment(who or "", at, note or ""))
        else:
            notice = AlertNotice(key, tuple(json.loads(reasons or "[]")), at, seen_at, note)
            (self.urgent if seen_at is None else self.seen).append(notice)
            if seen_at is not None and fresh:
                self.acknowledged.append(inbox.Acknowledged(who, at, seen_at, bool(note)))


def _checklist_for(course: Course, now: datetime) -> ChecklistView:
    t = course.upcoming
    assert t is not None
    ticked = set(
        reads()
        .execute(sa.select(ChecklistTick.item_key).where(ChecklistTick.treatment_id == t.id))
        .scalars()
    )
    return build_checklist(for_reader(protocol_for(t)), t.appointment_at, course.tz, now, ticked)


def checklist_page(user: Principal, now: datetime) -> tuple[Course, ChecklistView | None]:
    """The checklist of the next booked appointment, if there is one."""
    course = load_course(user)
    return course, (_checklist_for(course, now) if course.upcoming else None)


def plan_page(user: Principal, now: datetime) -> tuple[Course, PlanView | None]:
    """The recovery timeline of the current (or, before treatment, the booked) session,
    worded for ``now`` as Today is."""
    course = load_course(user)
    t = course.recovering or course.upcoming
    if t is None:
        return course, None
    return course, build_plan(for_reader(protocol_for(t)), t.anchor, course.tz, now)


def set_checklist_item(user: Principal, key: str, done: bool, now: datetime) -> None:
    """Tick or untick a checklist item of the next appointment (idempotent)."""
    course = load_course(user)
    t = course.upcoming
    if t is None:
        raise NotFound("There is no booked appointment.")
    # The clinic's own items (by = "clinic") are not the patient's to tick.
    if key not in {item.key for item in protocol_for(t).checklist if item.by == "patient"}:
        raise NotFound("No such checklist item.")
    lock_patient(course.patient.id)  # ticks from several devices: one at a time
    existing = db.session.get(ChecklistTick, (t.id, key))
    if done and existing is None:
        db.session.add(ChecklistTick(treatment_id=t.id, item_key=key, ticked_at=now))
    elif not done and existing is not None:
        db.session.delete(existing)
    _commit_tolerating_duplicate()


def set_task(user: Principal, key: str, day: int | None, done: bool, now: datetime) -> int:
    """Tick or untick a daily task for a day (today if not given); idempotent.

    A day may be today or an earlier day on which the task applied (a late tick, or a
    tick made offline and sent later). Returns the day used.
    """
    course = load_course(user)
    t = course.recovering
    if t is None:
        raise NotFound("There is no treatment recorded yet.")
    task = next((x for x in protocol_for(t).tasks if x.key == key), None)
    if task is None:
        raise NotFound("No such task.")
    today = day_number(t.anchor, now, course.tz)
    day = today if day is None else day
    w = window(task.start, task.end, t.anchor, course.tz)
    first = day_number(t.anchor, w.start, course.tz)
    last = (w.last_date - w.first_date).days + first
    if day > today or not first <= day <= last:
        raise Invalid("day", _("This task does not apply on that day."))
    lock_patient(course.patient.id)  # ticks from several devices: one at a time
    existing = db.session.get(TaskTick, (t.id, key, day))
    if done and existing is None:
        db.session.add(TaskTick(treatment_id=t.id, task_key=key, day=day, ticked_at=now))
    elif not done and existing is not None:
        db.session.delete(existing)
    _commit_tolerating_duplicate()
    return day


def _commit_tolerating_duplicate() -> None:
    """Two identical ticks racing (double tap, replay) both mean 'ticked': keep one."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
