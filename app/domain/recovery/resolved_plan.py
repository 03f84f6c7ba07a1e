"""A protocol's ranges resolved for one treatment and time zone, and the next session.

Independent of "now", so a treatment's plan is resolved once and reused by Today and
the plan on every page view (memoised: it is a pure function of its arguments).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.offsets import local_date
from app.domain.offsets import resolve
from app.domain.protocol.model import DailyTask
from app.domain.protocol.model import Milestone
from app.domain.protocol.model import NormalNote
from app.domain.protocol.model import Protocol
from app.domain.protocol.model import RedFlag
from app.domain.protocol.model import Restriction
from app.domain.recovery.today_view import NoteToday
from app.domain.recovery.windows import Window
from app.domain.recovery.windows import window

# Daily check-ins are asked for (and missed ones followed up by the clinic) until this
# day after the latest treatment: deep-vein thrombosis, the rare serious late
# complication, shows up 4-28 days after (clinical reference 2.6). After it, the
# session's follow-up is over (app/services/care/followup.py keeps the same bound).
# Defined here, below today.py and stockings.py, which both need it.
FOLLOW_UP_DAYS = 28


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


def still_running(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, at: datetime
) -> tuple[tuple[str, datetime], ...]:
    """The tasks and restrictions of a session treated at ``treated_at`` that still run
    at ``at`` (title and end), in end order.

    Today follows the latest session only, so these are what a session recorded at
    ``at`` hides from the patient (adversarial review, 2026-12-07: a second session a
    day after a 72-hour one took "wear your stockings until Thursday" off Today).
    """
    plan = resolve_plan(protocol, treated_at, tz)
    running = [(item.title, w.end) for item, w in (*plan.tasks, *plan.restrictions) if w.end > at]
    return tuple(sorted(running, key=lambda pair: pair[1]))


def carried_over(
    earlier: Iterable[tuple[Protocol, datetime]],
    latest: tuple[Protocol, datetime],
    tz: ZoneInfo,
    at: datetime,
) -> tuple[tuple[str, datetime], ...]:
    """What of the earlier sessions' aftercare (each a protocol and when it was treated)
    still runs at ``at`` and is not run as long or longer by the latest session's own
    plan: what a patient treated again within days must still be told (a session
    recorded a day after a 72-hour one must not take "stockings until Thursday" off
    Today, nor a third session what the first still asked). Items are matched by title;
    an item several sessions run is kept once, with its latest end. Title and end, in
    end order."""
    kept = dict(still_running(*latest, tz, at))
    ends: dict[str, datetime] = {}
    for protocol, treated_at in earlier:
        for title, end in still_running(protocol, treated_at, tz, at):
            if title not in ends or end > ends[title]:
                ends[title] = end
    running = [(t, end) for t, end in ends.items() if kept.get(t) is None or kept[t] < end]
    return tuple(sorted(running, key=lambda pair: pair[1]))
