"""Today after treatment: what is in force now, what starts soon, and for how long.

Every function here takes the protocol, the treatment instant, the patient's time zone
and "now" as arguments, and returns plain frozen dataclasses (:mod:`.today_view`) that
templates render. Nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.offsets import day_number
from app.domain.offsets import local_date
from app.domain.protocol.model import Protocol
from app.domain.recovery.phrases import milestone_heading
from app.domain.recovery.phrases import timing
from app.domain.recovery.resolved_plan import FOLLOW_UP_DAYS  # kept importable from here
from app.domain.recovery.resolved_plan import resolve_plan
from app.domain.recovery.stockings import stockings_until
from app.domain.recovery.today_view import NoteToday
from app.domain.recovery.today_view import RestrictionToday
from app.domain.recovery.today_view import TaskToday
from app.domain.recovery.today_view import TimeState
from app.domain.recovery.today_view import TodayView
from app.domain.recovery.windows import Window

# Something that starts or changes within this span is shown ahead, with its time
# (issue 14 point 2: "from 14:00 tomorrow").
LOOKAHEAD = timedelta(hours=24)


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
    off = stockings_until(protocol, treated_at, tz, now)
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
        stockings=off is not None,
        stockings_until=off,
    )
