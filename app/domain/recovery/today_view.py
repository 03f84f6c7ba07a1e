"""What the Today page shows: the frozen view of one day after treatment.

Built by :func:`app.domain.recovery.today.build_today`; templates render it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Literal

from app.domain.recovery.windows import Window

# On Today: "now" is in force at this instant; "upcoming" starts later (shown with when).
TimeState = Literal["now", "upcoming"]


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
    # A stocking task is in force now (``stockings.stockings_on``): only then may advice
    # say "loosen or take off your stocking" (never on a protocol without compression).
    stockings: bool = False
    # When those stockings come off: the page's offline copy swaps the advice then.
    stockings_until: datetime | None = None

    @property
    def active_tasks(self) -> tuple[TaskToday, ...]:
        """Tasks in force now (the ones to tick)."""
        return tuple(t for t in self.tasks if t.state == "now")

    @property
    def later_tasks(self) -> tuple[TaskToday, ...]:
        """Tasks that start later (within the next 24 hours), shown with their start."""
        return tuple(t for t in self.tasks if t.state == "upcoming")
