"""Plain-English dates and times for patients: "tomorrow 10:00", "Sat 6 Dec".

Pure functions: the instant, the time zone and "now" are arguments. The words are said
in the reader's language through app/domain/language.py (English unless the app installed
a translator); every cache is keyed by that language too.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import key
from app.domain.language import say
from app.domain.language import short_day

# The relative names of days, and a time on them ("14:00 today"), said whole so each
# language can order them its own way ("hoy a las 14:00").
_RELATIVE = {0: N_("today"), 1: N_("tomorrow"), -1: N_("yesterday")}
_TIME_ON_RELATIVE = {
    0: N_("%(time)s today"),
    1: N_("%(time)s tomorrow"),
    -1: N_("%(time)s yesterday"),
}


def day_label(day: date, today: date) -> str:
    """ "today", "tomorrow", "yesterday", else "Sat 6 Dec" (with the year if another)."""
    return _day_label(day, today, key())


# Pure and called many times per page with few distinct dates: formatting is the cost.
@lru_cache(maxsize=4096)
def _day_label(day: date, today: date, lang: str) -> str:
    delta = (day - today).days
    if delta in _RELATIVE:
        return say(_RELATIVE[delta])
    return short_day(day, day.year != today.year)


def when(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """An instant as the patient reads it: "tomorrow 10:00", "Sat 6 Dec 15:30"."""
    local = instant.astimezone(tz)
    day = day_label(local.date(), now.astimezone(tz).date())
    return say(N_("%(day)s %(time)s"), day=day, time=f"{local:%H:%M}")


def on(day: date, today: date) -> str:
    """A date with its weekday, never relative, for 'until' dates: "Sat 6 Dec"."""
    return _on(day, today, key())


@lru_cache(maxsize=4096)
def _on(day: date, today: date, lang: str) -> str:
    return short_day(day, day.year != today.year)


def day_phrase(n: int) -> str:
    """How the app names a day: "Treatment day", "Day 3 after your treatment"."""
    if n == 0:
        return say(N_("Treatment day"))
    if n > 0:
        return say(N_("Day %(n)s after your treatment"), n=n)
    if n == -1:
        return say(N_("Your treatment is tomorrow"))
    return say(N_("%(n)s days until your treatment"), n=-n)


def clock_on(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A local time then its day, as instructions read: "14:00 today", "09:30 on Sat 6 Dec".

    24-hour clock, as everywhere in the app. A midnight that begins a day is named by the
    day alone ("tomorrow"), since "00:00 tomorrow" reads like the night before.
    """
    return _clock_on(instant, tz, now.astimezone(tz).date(), key())


# The phrases below are pure and asked for every task and rule on every Today view, with
# few distinct (instant, day) pairs: cached, as day_label is (bench/today_page.py), per
# reader's language (the last argument).
@lru_cache(maxsize=4096)
def _clock_on(instant: datetime, tz: ZoneInfo, today: date, lang: str) -> str:
    local = instant.astimezone(tz)
    label = day_label(local.date(), today)
    if local.hour == 0 and local.minute == 0:
        return label
    delta = (local.date() - today).days
    if delta in _TIME_ON_RELATIVE:
        return say(_TIME_ON_RELATIVE[delta], time=f"{local:%H:%M}")
    return say(N_("%(time)s on %(day)s"), time=f"{local:%H:%M}", day=label)


def starting(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """When something begins: "from 14:00 today", "from tomorrow", "from Sat 6 Dec"."""
    return starting_on(instant, tz, now.astimezone(tz).date())


def starting_on(instant: datetime, tz: ZoneInfo, today: date) -> str:
    """:func:`starting` for a known local date of "now"."""
    return say(N_("from %(when)s"), when=_clock_on(instant, tz, today, key()))


def ending(end: datetime, exact: bool, tz: ZoneInfo, now: datetime) -> str:
    """When something stops applying: "until 14:00 today", "until midnight tonight",
    "until the end of Sat 6 Dec".

    ``exact`` is False for a rule kept through a whole day (it ends at the next local
    midnight, ``end``): that is said as the last day it covers, or as "midnight tonight"
    when that is today, so a patient always sees a time within the next 24 hours.
    """
    return ending_on(end, exact, tz, now.astimezone(tz).date())


def ending_on(end: datetime, exact: bool, tz: ZoneInfo, today: date) -> str:
    """:func:`ending` for a known local date of "now"."""
    return _ending_on(end, exact, tz, today, key())


@lru_cache(maxsize=4096)
def _ending_on(end: datetime, exact: bool, tz: ZoneInfo, today: date, lang: str) -> str:
    local = end.astimezone(tz)
    # An exact end that falls on midnight reads as the day it closes ("until midnight
    # tonight"), never "until tomorrow", which sounds like the whole of tomorrow.
    if exact and (local.hour, local.minute, local.second) != (0, 0, 0):
        return say(N_("until %(when)s"), when=_clock_on(end, tz, today, lang))
    last = (local - timedelta(microseconds=1)).date()
    if last == today:
        return say(N_("until midnight tonight"))
    if last == today + timedelta(days=1):
        return say(N_("until the end of tomorrow"))
    return say(N_("until the end of %(day)s"), day=on(last, today))


def lower_first(text: str) -> str:
    """A title or phrase continuing a sentence: "Wear your stockings" -> "wear your
    stockings" (left alone when it starts with an abbreviation such as "NHS")."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
