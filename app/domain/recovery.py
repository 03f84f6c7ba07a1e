"""What a patient sees: the pre-treatment checklist, "Today" after treatment, the plan.

Every function here takes the protocol, the anchor instant (appointment or treatment),
the patient's time zone and "now" as arguments, and returns plain frozen dataclasses
that templates render. Nothing here reads a clock or a database.
"""

from __future__ import annotations

import re
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
from app.domain.wording import ending
from app.domain.wording import ending_on
from app.domain.wording import lower_first
from app.domain.wording import on
from app.domain.wording import starting
from app.domain.wording import starting_on

# "clinic": the clinic's own task (by = "clinic"); never done, overdue or due for the patient.
ItemState = Literal["done", "overdue", "now", "upcoming", "clinic"]
# On Today: "now" is in force at this instant; "upcoming" starts later (shown with when).
TimeState = Literal["now", "upcoming"]

# Daily check-ins are asked for (and missed ones followed up by the clinic) until this
# day after the latest treatment: deep-vein thrombosis, the rare serious late
# complication, shows up 4-28 days after (clinical reference 2.6). After it, the
# session's follow-up is over (app/services/care/followup.py keeps the same bound).
FOLLOW_UP_DAYS = 28
# Something that starts or changes within this span is shown ahead, with its time
# (issue 14 point 2: "from 14:00 tomorrow").
LOOKAHEAD = timedelta(hours=24)


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
    """A daily task that applies today, and whether it is ticked for today.

    ``state`` is "now" while the task is in force and "upcoming" before it starts;
    ``timing`` says when in the patient's words ("Until 14:00 today").
    """

    key: str
    title: str
    detail: str
    window: Window
    done: bool
    state: TimeState = "now"
    timing: str = ""


@dataclass(frozen=True)
class RestrictionToday:
    """Something to avoid today, with the last date it applies."""

    key: str
    title: str
    detail: str
    window: Window
    state: TimeState = "now"
    timing: str = ""


@dataclass(frozen=True)
class NoteToday:
    """A note, milestone or red flag that is relevant today.

    For a milestone, ``heading`` is the title as it reads at this instant: as written
    once its moment has come ("... from now"), else with its time ("From 14:00 today:
    ...").
    """

    key: str
    title: str
    detail: str
    at: datetime | None = None
    state: TimeState = "now"
    heading: str = ""


@dataclass(frozen=True)
class TodayView:
    """Everything the Today page shows for one day after treatment.

    ``follow_up_over``: the session's daily follow-up has ended (after day
    ``FOLLOW_UP_DAYS``): no more check-in invitations for it. ``next_session`` is None
    once its usual window has passed.
    """

    day: int
    date: date
    tasks: tuple[TaskToday, ...]
    restrictions: tuple[RestrictionToday, ...]
    milestones: tuple[NoteToday, ...]
    normal: tuple[NoteToday, ...]
    red_flags: dict[str, tuple[NoteToday, ...]]
    next_session: tuple[date, date] | None
    follow_up_over: bool = False

    @property
    def active_tasks(self) -> tuple[TaskToday, ...]:
        """Tasks in force now (the ones to tick)."""
        return tuple(t for t in self.tasks if t.state == "now")

    @property
    def later_tasks(self) -> tuple[TaskToday, ...]:
        """Tasks that start later (within the next 24 hours), shown with their start."""
        return tuple(t for t in self.tasks if t.state == "upcoming")


_FROM_NOW = re.compile(r"\s+from now[.!]?$", re.IGNORECASE)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def milestone_heading(title: str, at: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A milestone's title as true at ``now``: never "from now" before its moment.

    Protocol titles may end in "from now" (they are written for the moment itself).
    Before that moment the heading says from when ("From 14:00 today: you can take
    your stockings off to sleep"); on its own date once reached, the title as written;
    on a later date, the title without "from now".
    """
    rest = _FROM_NOW.sub("", title)
    if at > now:
        return f"{_capital(starting(at, tz, now))}: {lower_first(rest)}"
    if local_date(at, tz) == local_date(now, tz):
        return title
    return rest


def timing(w: Window, tz: ZoneInfo, now: datetime, today: date | None = None) -> str:
    """When a task or rule applies, seen from ``now``: "Until 14:00 today", or
    "From 14:00 today until the end of Sat 6 Dec" before it starts.

    :param today: the local date of ``now``, when the caller has it already.
    """
    today = today or local_date(now, tz)
    end = ending_on(w.end, w.end_is_exact, tz, today)
    if now < w.start:
        return _capital(f"{starting_on(w.start, tz, today)} {end}")
    return _capital(end)


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


def _shown(w: Window, today: date, now: datetime, started: bool) -> TimeState | None:
    """Whether a task or rule is on Today at ``now``, and as what.

    In force ("now") from its start until its end: a rule that ends at a clock time
    ("72h") leaves at that instant, one kept through a whole day at the end of the day
    (its window ends at the next local midnight). Before it starts, it is shown
    "upcoming" when it starts later today or within the next 24 hours, so the patient
    sees what changes and when; it is never shown as something to do now. Nothing is
    shown ahead before the treatment itself (``started``).
    """
    if now >= w.end:
        return None
    if now >= w.start:
        return "now"
    if started and (w.covers_date(today) or w.start - now <= LOOKAHEAD):
        return "upcoming"
    return None


def build_today(
    protocol: Protocol,
    treated_at: datetime,
    tz: ZoneInfo,
    now: datetime,
    ticked_today: Set[str],
) -> TodayView:
    """The Today view for the patient's local date at ``now``.

    Every task and rule is either in force at ``now`` or upcoming with its start time,
    and none is shown after its end: so "wear them day and night" and "you can take
    them off to sleep" are never both in force (issue 14 point 2). A milestone is shown
    on its own date once its moment has come, and during the 24 hours before it as
    "From <time>: ...".
    """
    plan = resolve_plan(protocol, treated_at, tz)
    today = local_date(now, tz)
    started = now >= treated_at
    tasks = []
    for task, w in plan.tasks:
        state = _shown(w, today, now, started)
        if state is not None:
            done = task.key in ticked_today
            tasks.append(
                TaskToday(
                    task.key, task.title, task.detail, w, done, state, timing(w, tz, now, today)
                )
            )
    restrictions = []
    for rule, w in plan.restrictions:
        state = _shown(w, today, now, started)
        if state is not None:
            restrictions.append(
                RestrictionToday(
                    rule.key, rule.title, rule.detail, w, state, timing(w, tz, now, today)
                )
            )
    restrictions.sort(key=lambda r: (r.state != "now", r.window.end))
    milestones = []
    for m, at, on_date in sorted(plan.milestones, key=lambda x: x[1]):
        if at <= now and on_date == today:
            state: TimeState = "now"
        elif started and now < at <= now + LOOKAHEAD:
            state = "upcoming"
        else:
            continue
        heading = milestone_heading(m.title, at, tz, now)
        milestones.append(NoteToday(m.key, m.title, m.detail, at, state, heading))
    day = day_number(treated_at, now, tz)
    first, last = plan.next_session
    return TodayView(
        day=day,
        date=today,
        tasks=tuple(tasks),
        restrictions=tuple(restrictions),
        milestones=tuple(milestones),
        normal=tuple(
            NoteToday(n.key, n.title, n.detail) for n, w in plan.normal if w.covers_date(today)
        ),
        red_flags=plan.red_flags,
        # A window that has passed is not advice any more (issue 14 point 9).
        next_session=(first, last) if today <= last else None,
        follow_up_over=day > FOLLOW_UP_DAYS,
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
    """One line of the recovery timeline.

    ``timing`` says when, as Today says it at the same instant ("From 10:00 today
    until the end of Sat 6 Dec"), where the date alone would not be enough.
    """

    on: date
    day: int
    kind: Literal["milestone", "ends", "starts", "session"]
    title: str
    detail: str
    timing: str = ""


@dataclass(frozen=True)
class PlanView:
    """The whole recovery timeline, grouped by week after treatment."""

    events: tuple[PlanEvent, ...]
    weeks: tuple[tuple[int, tuple[PlanEvent, ...]], ...]


def build_plan(protocol: Protocol, treated_at: datetime, tz: ZoneInfo, now: datetime) -> PlanView:
    """All dated events of a protocol for one treatment: milestones, ends of rules.

    Worded for ``now`` with the same helpers as Today, so the two pages never disagree:
    a milestone says "from now" only once its moment has come, and a next-session
    window that has passed is left out. Week 0 holds days 0-6, week 1 days 7-13, and
    so on.
    """
    plan = resolve_plan(protocol, treated_at, tz)
    base = local_date(treated_at, tz)
    today = local_date(now, tz)
    events: list[PlanEvent] = []
    for m, at, on_date in plan.milestones:
        title = milestone_heading(m.title, at, tz, now)
        events.append(PlanEvent(on_date, (on_date - base).days, "milestone", title, m.detail))
    for task, w in plan.tasks:
        events.append(
            PlanEvent(
                w.first_date,
                (w.first_date - base).days,
                "starts",
                task.title,
                task.detail,
                timing(w, tz, now) if now < w.end else "",
            )
        )
    for rule, w in plan.restrictions:
        title = f"Last day to avoid: {rule.title.lower()}"
        when = _capital(ending(w.end, True, tz, now)) if w.end_is_exact and now < w.end else ""
        events.append(
            PlanEvent(w.last_date, (w.last_date - base).days, "ends", title, rule.detail, when)
        )
    first, last = plan.next_session
    if today <= last:
        events.append(
            PlanEvent(
                first,
                (first - base).days,
                "session",
                "Next session, if you need one: the usual window opens",
                f"The usual window is until {on(last, today)}. Call the clinic to book.",
            )
        )
    order = {"starts": 0, "milestone": 1, "ends": 2, "session": 3}
    events.sort(key=lambda e: (e.on, order[e.kind], e.title))
    weeks: dict[int, list[PlanEvent]] = {}
    for e in events:
        weeks.setdefault(max(e.day, 0) // 7, []).append(e)
    return PlanView(tuple(events), tuple((w, tuple(evs)) for w, evs in sorted(weeks.items())))
