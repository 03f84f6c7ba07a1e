"""The check-in form: which day a patient may check in for, the questions that day asks,
and the answers already given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from app.domain.checkin import offline_rules
from app.domain.checkin_day import day_questions
from app.domain.checkin_day import fixed_count
from app.domain.checkin_day import stockings_choice
from app.domain.checkin_day import stockings_together
from app.domain.offsets import day_number
from app.domain.offsets import local_date
from app.domain.protocol import RedFlag
from app.domain.recovery import FOLLOW_UP_DAYS
from app.domain.recovery import stockings_until
from app.extensions import db
from app.i18n import _
from app.models import CheckIn
from app.principal import Principal
from app.services.care.course import Course
from app.services.care.course import load_course
from app.services.care.course import protocol_for
from app.services.errors import Invalid
from app.services.errors import NotFound


@dataclass(frozen=True)
class CheckInForm:
    """What the check-in page needs: the day, the questions, and today's answers."""

    course: Course
    day: int
    questions: list[RedFlag]
    existing: CheckIn | None
    # The fixed questions the protocol asks on this day (pain, skin, stockings, ...).
    fixed: frozenset[str] = frozenset()
    # The triage rules for the phone to apply offline (see domain.checkin.offline_rules).
    rules: dict[str, object] | None = None
    # Today is after the session's follow-up (issue 14 point 9): the page says so
    # instead of asking questions (a late offline check-in is still accepted).
    follow_up_over: bool = False
    # Warning signs in their window that a fixed question asked today covers: not asked
    # again, but still triaged at their tier if answered (domain.checkin_day).
    covered: tuple[RedFlag, ...] = ()
    # The covered warning signs the skin list asks today, or None when it is not asked:
    # the list then needs a tick or "No skin changes" (domain.checkin_day).
    skin_covers: tuple[RedFlag, ...] | None = None
    # The skin changes the list offers today (the stocking one only on stocking days).
    skin_choices: tuple[str, ...] = ()
    # Stockings are on now by the protocol (domain.recovery.stockings): the offline
    # same-day advice speaks of "your stocking" only then.
    stockings: bool = False
    # When they come off: the page kept for offline use swaps the advice then (app.js).
    stockings_until: datetime | None = None

    @property
    def in_window(self) -> list[RedFlag]:
        """Every warning sign of the day: asked on its own or through a fixed question."""
        return [*self.questions, *self.covered]

    @property
    def count(self) -> int:
        """How many questions the page asks (the note and the photo are extras)."""
        return len(self.questions) + fixed_count(self.fixed)

    def stockings_as_one(self, values: Mapping[str, object]) -> bool:
        """Both stockings questions asked today, so as one (domain.checkin_day), unless
        ``values`` answer only one of them (an old check-in, or a page kept on a phone):
        that answer is then shown in its own question, so an edit cannot lose it."""
        if not stockings_together(self.fixed):
            return False
        answered = [values.get(k) in (True, False, "yes", "no") for k in STOCKINGS_PAIR]
        return answered.count(True) != 1

    @staticmethod
    def stockings_chosen(values: Mapping[str, object]) -> str | None:
        """The one stockings question's choice for answers stored or just sent."""
        return stockings_choice(values.get("stockings_day"), values.get("stockings_night"))

    def urgent_level(self, red_flags: Mapping[str, object] | None) -> str | None:
        """The advice to put first on a refused form, for the warning signs answered
        "yes" among this day's questions: "emergency" if any is one, else "same_day" if
        any is one, else None. Red-flag advice must never wait for the rest of the form
        to be fixed (issue 14 point 6).

        :param red_flags: the answers sent, by question key ("yes", "no" or None).
        """
        level = None
        for q in self.in_window:
            if (red_flags or {}).get(q.key) == "yes" and q.tier in ("emergency", "same_day"):
                if q.tier == "emergency" or level is None:
                    level = q.tier
        return level


STOCKINGS_PAIR = ("stockings_day", "stockings_night")

# A check-in saved on the phone while offline may reach us a little later; it still
# belongs to the day it was filled in (and asks that day's questions).
LATE_DAYS = 2


def checkin_form(
    user: Principal, now: datetime, day: int | None = None, *, closed_ok: bool = False
) -> CheckInForm:
    """A day's check-in questions (red flags in their windows) and any answers so far.

    :param day: the day the form was filled in (today if None): any earlier day of this
        treatment for a first check-in, up to LATE_DAYS back for a change.
    :param closed_ok: also give the questions of a day whose answers can no longer be
        changed, to read the warning signs of a late edit (never to store it).
    """
    course = load_course(user)
    t = course.recovering
    if t is None:
        raise NotFound("There is no treatment recorded yet.")
    today = day_number(t.anchor, now, course.tz)
    if day is None:
        day = today
    if not 0 <= day <= today:
        raise Invalid("day", _("This check-in is for a day that can no longer be changed."))
    existing = db.session.scalar(
        sa.select(CheckIn).where(CheckIn.treatment_id == t.id, CheckIn.day == day)
    )
    # Answers already given may be changed for LATE_DAYS; a first check-in for an older
    # day is still taken: a phone offline for days may hold a red flag the clinic must
    # hear about (issue 14 point 6: no check-in is lost).
    if day < today - LATE_DAYS and existing is not None and not closed_ok:
        raise Invalid("day", _("This check-in is for a day that can no longer be changed."))
    on = local_date(t.anchor, course.tz) + timedelta(days=day)
    protocol = protocol_for(t)
    asked = day_questions(protocol, t.anchor, course.tz, on)
    rules = offline_rules(protocol, t.anchor, course.tz)
    over = today > FOLLOW_UP_DAYS
    off = stockings_until(protocol, t.anchor, course.tz, now)
    return CheckInForm(
        course,
        day,
        asked.red_flags,
        existing,
        asked.fixed,
        rules,
        follow_up_over=over,
        covered=tuple(asked.covered),
        skin_covers=asked.skin_covers,
        skin_choices=asked.skin_choices,
        stockings=off is not None,
        stockings_until=off,
    )
