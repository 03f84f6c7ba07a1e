"""Whether a patient has compression stockings on: read from the protocol, never its name.

Advice that tells someone to loosen or take off "your stocking" is wrong for a patient
whose protocol has no compression, and misleading once the stocking period is over
(issue 19, task D); and a patient who does wear stockings must be told to loosen them
when the foot is cold, pale or numb or the pain is severe (clinical reference §2.6: "a
stocking that is too tight: loosen it"). The protocol's own data says when stockings
are worn (HAZ-05 C5, C6):

* a ``[[task]]`` marked ``stockings = true`` is stocking wear, whether or not the
  protocol asks a stockings question (a clinic's own file may ask none);
* so is a task a stockings question is asked ``during`` (``[[question]] key =
  "stockings_day"``): the rule from before the mark, which stored versions rely on.
  The loader refuses a new file where the two disagree or a task speaking of stockings
  says neither (app/domain/protocol/stocking_marks.py);
* a stockings question asked with no ``during`` means stockings on every day of the
  follow-up, and not after it (``FOLLOW_UP_DAYS``): the question is no longer asked
  then either.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.offsets import day_number
from app.domain.offsets import local_date
from app.domain.protocol.model import Protocol
from app.domain.protocol.requirements import STOCKINGS_QUESTIONS
from app.domain.recovery.resolved_plan import FOLLOW_UP_DAYS
from app.domain.recovery.resolved_plan import resolve_plan


def stocking_tasks(protocol: Protocol) -> frozenset[str]:
    """The keys of the protocol's tasks that are stocking wear: marked so, or asked
    about by a stockings question (``during``)."""
    asked = (q for q in protocol.questions if q.key in STOCKINGS_QUESTIONS)
    marked = (t.key for t in protocol.tasks if t.stockings)
    return frozenset((*marked, *(k for q in asked for k in q.during)))


def asks_stockings(protocol: Protocol) -> bool:
    """Whether the protocol asks the patient about stocking wear at all: without a
    stockings question, adherence is "not asked", never 0 % (issue 19 point 7)."""
    return any(q.key in STOCKINGS_QUESTIONS for q in protocol.questions)


def always_stockings(protocol: Protocol) -> bool:
    """A stockings question asked every day (no ``during``): stockings all along."""
    return any(q.key in STOCKINGS_QUESTIONS and not q.during for q in protocol.questions)


def has_stockings(protocol: Protocol) -> bool:
    """Whether the protocol uses compression stockings at all."""
    return always_stockings(protocol) or bool(stocking_tasks(protocol))


def stockings_on(protocol: Protocol, treated_at: datetime, tz: ZoneInfo, now: datetime) -> bool:
    """Whether a stocking task is in force at ``now`` (as Today shows it: from its start
    until its end), so advice may speak of "your stocking"."""
    return stockings_until(protocol, treated_at, tz, now) is not None


def stockings_until(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, now: datetime
) -> datetime | None:
    """When the stockings on at ``now`` come off (UTC), or None when none are on.

    Stocking tasks that run on from one another ("day and night", then "daytime") count
    as one stretch. A page kept on the phone (its offline copy) swaps its stocking advice
    for the plain one at this instant (app.js, ``data-until`` / ``data-from``).
    """
    if now < treated_at:
        return None
    if always_stockings(protocol):
        # Every day of the follow-up, as the question is asked: not for ever after.
        if day_number(treated_at, now, tz) > FOLLOW_UP_DAYS:
            return None
        last = local_date(treated_at, tz) + timedelta(days=FOLLOW_UP_DAYS + 1)
        return datetime.combine(last, time(0), tzinfo=tz).astimezone(UTC)
    keys = stocking_tasks(protocol)
    if not keys:
        return None
    plan = resolve_plan(protocol, treated_at, tz)
    windows = [w for t, w in plan.tasks if t.key in keys]
    ends = [w.end for w in windows if w.start <= now < w.end]
    if not ends:
        return None
    end = max(ends)
    grew = True
    while grew:  # a task that starts before (or as) the stretch ends carries it on
        grew = False
        for w in windows:
            if w.start <= end < w.end:
                end, grew = w.end, True
    return end
