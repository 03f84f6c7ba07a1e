"""When the next session of a course may be booked: the protocol's interval window,
the date to suggest, and whether a date is too soon after (or before) another session.

The window is the protocol's own ``[course]`` section (``interval_weeks_min`` and
``interval_weeks_max``), each clinic's figure with its source in the protocol file
(for example clinic page 4: "repeat at 4-12 week intervals"; reference 2.7: Coleridge
Smith 2015, 2-8 weeks). Sclerosing a vein again before the first session has settled
is what the minimum interval guards against, so a date inside it is a warning the
clinician confirms, never a refusal: the clinician may have a reason (a different leg).

Dates are the patient's local calendar dates; intervals are whole weeks counted from
the date of the session before. Pure: "today" is an argument; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import timedelta


@dataclass(frozen=True)
class Window:
    """The dates a next session falls inside the protocol's interval: ``opens`` (the
    minimum interval after ``after``) to ``closes`` (the maximum), both included."""

    after: date
    opens: date
    closes: date


@dataclass(frozen=True)
class TooSoon:
    """A date inside the minimum interval of another session of the course.

    ``other``: that session's date; ``later``: whether it comes after the date checked
    (a session booked already, which the new one would crowd from before);
    ``opens``: the first date the minimum interval allows after ``other``.
    """

    other: date
    later: bool
    weeks_min: int
    days_apart: int
    opens: date


def window(after: date, weeks_min: int, weeks_max: int) -> Window:
    """The interval window of the session after the one on ``after``."""
    return Window(after, after + timedelta(weeks=weeks_min), after + timedelta(weeks=weeks_max))


def suggest(last: date | None, weeks_min: int, weeks_max: int, today: date) -> date:
    """The date to offer for the next session.

    The window's opening date, counted from ``last`` (the latest session done or booked,
    not cancelled). If that has already passed, tomorrow while the window is still open;
    once it has closed, tomorrow as well (the course is overdue: the soonest date is the
    best one). With no session yet, tomorrow.
    """
    tomorrow = today + timedelta(days=1)
    if last is None:
        return tomorrow
    return max(window(last, weeks_min, weeks_max).opens, tomorrow)


def too_soon(day: date, others: Iterable[date], weeks_min: int) -> TooSoon | None:
    """Whether ``day`` falls inside the minimum interval of one of ``others`` (the
    course's sessions done or booked, not cancelled, not the one being moved).

    The closest such session is named; a session on the same date counts too (two
    sessions one day). None when every other session is at least ``weeks_min`` weeks
    away, or the protocol has no minimum (``weeks_min`` 0).
    """
    gap = timedelta(weeks=weeks_min)
    clashes = [other for other in others if abs(day - other) < gap]
    if not clashes:
        return None
    other = min(clashes, key=lambda d: (abs(day - d), d))
    return TooSoon(
        other=other,
        later=other > day,
        weeks_min=weeks_min,
        days_apart=abs((day - other).days),
        opens=other + gap,
    )
