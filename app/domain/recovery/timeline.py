"""The recovery timeline: every dated event of a protocol for one treatment, by week.

Worded for ``now`` with the same phrases as Today (:mod:`.phrases`), so the two pages
never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import say
from app.domain.offsets import local_date
from app.domain.protocol.model import Protocol
from app.domain.recovery.phrases import capital
from app.domain.recovery.phrases import milestone_heading
from app.domain.recovery.phrases import timing
from app.domain.recovery.resolved_plan import resolve_plan
from app.domain.wording import ending
from app.domain.wording import on


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
        title = say(N_("Last day to avoid: %(what)s"), what=rule.title.lower())
        when = capital(ending(w.end, True, tz, now)) if w.end_is_exact and now < w.end else ""
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
                say(N_("Next session, if you need one: the usual window opens")),
                say(
                    N_("The usual window is until %(day)s. Call the clinic to book."),
                    day=on(last, today),
                ),
            )
        )
    order = {"starts": 0, "milestone": 1, "ends": 2, "session": 3}
    events.sort(key=lambda e: (e.on, order[e.kind], e.title))
    weeks: dict[int, list[PlanEvent]] = {}
    for e in events:
        weeks.setdefault(max(e.day, 0) // 7, []).append(e)
    return PlanView(tuple(events), tuple((w, tuple(evs)) for w, evs in sorted(weeks.items())))
