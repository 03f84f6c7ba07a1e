"""What a patient sees: the pre-treatment checklist, "Today" after treatment, the plan.

Every function here takes the protocol, the anchor instant (appointment or treatment),
the patient's time zone and "now" as arguments, and returns plain frozen dataclasses
that templates render. Nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.offsets import Offset
from app.domain.offsets import day_number
from app.domain.offsets import last_covered_date
from app.domain.offsets import local_date
from app.domain.offsets import resolve
from app.domain.protocol import ChecklistItem
from app.domain.protocol import DailyTask
from app.domain.protocol import Milestone
from app.domain.protocol import NormalNote
from app.domain.protocol import Protocol
from app.domain.protocol import RedFlag
from app.domain.protocol import Restriction

# "clinic": the clinic's own task (by = "clinic"); never done, overdue or due for the patient.
ItemState = Literal["done", "overdue", "now", "upcoming", "clinic"]


@dataclass(frozen=True)
class Window:
    """A resolved range of instants, with the local dates it covers."""

    start: datetime
    end: datetime
    first_date: date
    last_date: date
    end_is_exact: bool  # True when the end is a clock time ("72h"), not a whole day

    def covers(self, instant: datetime) -> bool:
        """True while the rule applies: from start (inclusive) to end (exclusive)."""
        return self.start <= instant < self.end

    def covers_date(self, day: date) -> bool:
        """True when any part of this local date falls inside the window."""
        return self.first_date <= day <= self.last_date


def window(start_offset: Offset, end_offset: Offset, anchor: datetime, tz: ZoneInfo) -> Window:
    """Resolve a protocol range into instants and the local dates it touches."""
    start = resolve(start_offset, anchor, tz)
    end = resolve(end_offset, anchor, tz, end=True)
    return Window(
        start=start,
        end=end,
        first_date=local_date(start, tz),
        last_date=last_covered_date(end, tz),
        end_is_exact=end_offset.hours is not None or end_offset.at is not None,
    )


# ------------------------------------------------------------------ checklist


@dataclass(frozen=True)
class ChecklistEntry:
    """One checklist item as the patient sees it at ``now``."""

    item: ChecklistItem
    due: datetime
    starts: datetime | None
    state: ItemState
    done: bool


@dataclass(frozen=True)
class ChecklistView:
    """The whole pre-treatment checklist with progress."""

    entries: tuple[ChecklistEntry, ...]
    done_count: int
    overdue_count: int
    # What the clinic does before the appointment ("your clinic will ..."); not the
    # patient's to tick and not counted in the patient's progress.
    clinic_entries: tuple[ChecklistEntry, ...] = ()

    @property
    def total(self) -> int:
        """Number of the patient's items."""
        return len(self.entries)


def build_checklist(
    protocol: Protocol, appointment: datetime, tz: ZoneInfo, now: datetime, ticked: Set[str]
) -> ChecklistView:
    """The checklist for an appointment, ordered by when each item is due.

    An item is *overdue* when its due time has passed and it is not ticked; an item with
    a ``starts`` time is *now* from then until it is due; earlier, *upcoming*. The
    clinic's own items (``by = "clinic"``) go to ``clinic_entries`` in state "clinic":
    a scan the clinic books is never the patient's overdue task (issue 14 point 10).
    """
    entries = []
    clinic_entries = []
    for item in protocol.checklist:
        due = resolve(item.due, appointment, tz)
        starts = resolve(item.starts, appointment, tz) if item.starts else None
        if item.by == "clinic":
            clinic_entries.append(ChecklistEntry(item, due, starts, "clinic", False))
            continue
        done = item.key in ticked
        if done:
            state: ItemState = "done"
        elif now >= due:
            state = "overdue"
        elif starts is None or now >= starts:
            state = "now"
        else:
            state = "upcoming"
        entries.append(ChecklistEntry(item, due, starts, state, done))
    entries.sort(key=lambda e: (e.starts or e.due, e.due, e.item.key))
    return ChecklistView(
        entries=tuple(entries),
        done_count=sum(e.done for e in entries),
        overdue_count=sum(e.state == "overdue" for e in entries),
        clinic_entries=tuple(sorted(clinic_entries, key=lambda e: (e.due, e.item.key))),
    )


# ------------------------------------------------------------------ today


@dataclass(frozen=True)
class TaskToday:
    """A daily task that applies today, and whether it is ticked for today."""

    key: str
    title: str
    detail: str
    window: Window
    done: bool


@dataclass(frozen=True)
class RestrictionToday:
    """Something to avoid today, with the last date it applies."""

    key: str
    title: str
    detail: str
    window: Window


@dataclass(frozen=True)
class NoteToday:
    """A note, milestone or red flag that is relevant today."""

    key: str
    title: str
    detail: str
    at: datetime | None = None


@dataclass(frozen=True)
class TodayView:
    """Everything the Today page shows for one day after treatment."""

    day: int
    date: date
    tasks: tuple[TaskToday, ...]
    restrictions: tuple[RestrictionToday, ...]
    milestones: tuple[NoteToday, ...]
    normal: tuple[NoteToday, ...]
    red_flags: dict[str, tuple[NoteToday, ...]]
    next_session: tuple[date, date] | None


def _red_flags(flags: Iterable[RedFlag]) -> dict[str, tuple[NoteToday, ...]]:
    """All red flags by tier: shown every day, not only in their peak window.

    Source: clinical reference §3.2 (push is best effort; red-flag advice must be
    visible in the app every day).
    """
    tiers: dict[str, list[NoteToday]] = {"emergency": [], "same_day": [], "routine": []}
    for flag in flags:
        tiers[flag.tier].append(NoteToday(flag.key, flag.title, flag.detail))
    return {tier: tuple(notes) for tier, notes in tiers.items()}


@dataclass(frozen=True)
class ResolvedPlan:
    """A protocol's ranges turned into instants for one treatment and time zone.

    Independent of "now", so it is computed once per treatment and reused on every
    page view (see :func:`resolve_plan`).
    """

    tasks: tuple[tuple[DailyTask, Window], ...]
    restrictions: tuple[tuple[Restriction, Window], ...]
    milestones: tuple[tuple[Milestone, datetime, date], ...]
    normal: tuple[tuple[NormalNote, Window], ...]
    red_flags: dict[str, tuple[NoteToday, ...]]
    next_session: tuple[date, date]


_RESOLVED: dict[tuple[int, datetime, str], tuple[Protocol, ResolvedPlan]] = {}


def resolve_plan(protocol: Protocol, treated_at: datetime, tz: ZoneInfo) -> ResolvedPlan:
    """Resolve every range of a protocol for one treatment (memoised: a pure function).

    The memo is keyed by the protocol object's identity and checked against it, since
    hashing a whole protocol on each call would cost more than resolving it.
    """
    key = (id(protocol), treated_at, tz.key)
    hit = _RESOLVED.get(key)
    if hit is not None and hit[0] is protocol:
        return hit[1]
    plan = ResolvedPlan(
        tasks=tuple((t, window(t.start, t.end, treated_at, tz)) for t in protocol.tasks),
        restrictions=tuple(
            (r, window(r.start, r.end, treated_at, tz)) for r in protocol.restrictions
        ),
        milestones=tuple(
            (m, at, local_date(at, tz))
            for m in protocol.milestones
            for at in [resolve(m.at, treated_at, tz)]
        ),
        normal=tuple((n, window(n.start, n.end, treated_at, tz)) for n in protocol.normal),
        red_flags=_red_flags(protocol.red_flags),
        next_session=next_session_window(protocol, treated_at, tz),
    )
    if len(_RESOLVED) >= 4096:
        _RESOLVED.clear()
    _RESOLVED[key] = (protocol, plan)
    return plan


def build_today(
    protocol: Protocol,
    treated_at: datetime,
    tz: ZoneInfo,
    now: datetime,
    ticked_today: Set[str],
) -> TodayView:
    """The Today view for the patient's local date at ``now``.

    Tasks and restrictions apply on every local date their window touches. A task or
    restriction that ends at a clock time is dropped once that instant has passed; one
    that ends with a whole day stays until that day is over.
    """
    plan = resolve_plan(protocol, treated_at, tz)
    today = local_date(now, tz)
    tasks = []
    for task, w in plan.tasks:
        # A task that ends at a clock time ("72h") leaves the list once that time has
        # passed; the milestone at the same moment tells the patient what changes.
        finished = w.end_is_exact and now >= w.end
        if w.covers_date(today) and not finished:
            tasks.append(TaskToday(task.key, task.title, task.detail, w, task.key in ticked_today))
    restrictions = [
        RestrictionToday(rule.key, rule.title, rule.detail, w)
        for rule, w in plan.restrictions
        if w.covers_date(today) and now < w.end
    ]
    restrictions.sort(key=lambda r: r.window.end)
    return TodayView(
        day=day_number(treated_at, now, tz),
        date=today,
        tasks=tuple(tasks),
        restrictions=tuple(restrictions),
        milestones=tuple(
            NoteToday(m.key, m.title, m.detail, at) for m, at, on in plan.milestones if on == today
        ),
        normal=tuple(
            NoteToday(n.key, n.title, n.detail) for n, w in plan.normal if w.covers_date(today)
        ),
        red_flags=plan.red_flags,
        next_session=plan.next_session,
    )


def next_session_window(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo
) -> tuple[date, date]:
    """First and last dates for the next session of the course, from the protocol."""
    base = local_date(treated_at, tz)
    course = protocol.course
    return (
        base + timedelta(weeks=course.interval_weeks_min),
        base + timedelta(weeks=course.interval_weeks_max),
    )


# ------------------------------------------------------------------ plan


@dataclass(frozen=True)
class PlanEvent:
    """One line of the recovery timeline."""

    on: date
    day: int
    kind: Literal["milestone", "ends", "starts", "session"]
    title: str
    detail: str


@dataclass(frozen=True)
class PlanView:
    """The whole recovery timeline, grouped by week after treatment."""

    events: tuple[PlanEvent, ...]
    weeks: tuple[tuple[int, tuple[PlanEvent, ...]], ...]


def build_plan(protocol: Protocol, treated_at: datetime, tz: ZoneInfo) -> PlanView:
    """All dated events of a protocol for one treatment: milestones, ends of rules.

    Week 0 holds days 0-6, week 1 days 7-13, and so on.
    """
    base = local_date(treated_at, tz)
    events: list[PlanEvent] = []
    for m in protocol.milestones:
        on = local_date(resolve(m.at, treated_at, tz), tz)
        events.append(PlanEvent(on, (on - base).days, "milestone", m.title, m.detail))
    for task in protocol.tasks:
        w = window(task.start, task.end, treated_at, tz)
        events.append(
            PlanEvent(w.first_date, (w.first_date - base).days, "starts", task.title, task.detail)
        )
    for rule in protocol.restrictions:
        w = window(rule.start, rule.end, treated_at, tz)
        title = f"Last day to avoid: {rule.title.lower()}"
        events.append(PlanEvent(w.last_date, (w.last_date - base).days, "ends", title, rule.detail))
    first, last = next_session_window(protocol, treated_at, tz)
    events.append(
        PlanEvent(
            first,
            (first - base).days,
            "session",
            "Your next session can be booked from now",
            f"The usual window is until {last:%a %-d %b %Y}.",
        )
    )
    order = {"starts": 0, "milestone": 1, "ends": 2, "session": 3}
    events.sort(key=lambda e: (e.on, order[e.kind], e.title))
    weeks: dict[int, list[PlanEvent]] = {}
    for e in events:
        weeks.setdefault(max(e.day, 0) // 7, []).append(e)
    return PlanView(tuple(events), tuple((w, tuple(evs)) for w, evs in sorted(weeks.items())))
