"""Plain-English dates and times for patients: "tomorrow 10:00", "Sat 6 Dec".

Pure functions: the instant, the time zone and "now" are arguments.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


# Pure and called many times per page with few distinct dates: strftime is the cost.
@lru_cache(maxsize=4096)
def day_label(day: date, today: date) -> str:
    """ "today", "tomorrow", "yesterday", a weekday within the week, else "Sat 6 Dec"."""
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    label = f"{day:%a} {day.day} {day:%b}"
    if day.year != today.year:
        label += f" {day.year}"
    return label


def when(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """An instant as the patient reads it: "tomorrow 10:00", "Sat 6 Dec 15:30"."""
    local = instant.astimezone(tz)
    return f"{day_label(local.date(), now.astimezone(tz).date())} {local:%H:%M}"


@lru_cache(maxsize=4096)
def on(day: date, today: date) -> str:
    """A date with its weekday, never relative, for 'until' dates: "Sat 6 Dec"."""
    label = f"{day:%a} {day.day} {day:%b}"
    return label if day.year == today.year else f"{label} {day.year}"


def day_phrase(n: int) -> str:
    """How the app names a day: "Treatment day", "Day 3 after your treatment"."""
    if n == 0:
        return "Treatment day"
    if n > 0:
        return f"Day {n} after your treatment"
    if n == -1:
        return "Your treatment is tomorrow"
    return f"{-n} days until your treatment"


def clock_on(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A local time then its day, as instructions read: "14:00 today", "09:30 on Sat 6 Dec".

    24-hour clock, as everywhere in the app. A midnight that begins a day is named by the
    day alone ("tomorrow"), since "00:00 tomorrow" reads like the night before.
    """
    return _clock_on(instant, tz, now.astimezone(tz).date())


# The phrases below are pure and asked for every task and rule on every Today view, with
# few distinct (instant, day) pairs: cached, as day_label is (bench/today_page.py).
@lru_cache(maxsize=4096)
def _clock_on(instant: datetime, tz: ZoneInfo, today: date) -> str:
    local = instant.astimezone(tz)
    label = day_label(local.date(), today)
    if local.hour == 0 and local.minute == 0:
        return label
    joiner = " " if label in ("today", "tomorrow", "yesterday") else " on "
    return f"{local:%H:%M}{joiner}{label}"


def starting(instant: datetime, tz: ZoneInfo, now: datetime) -> str:
    """When something begins: "from 14:00 today", "from tomorrow", "from Sat 6 Dec"."""
    return starting_on(instant, tz, now.astimezone(tz).date())


def starting_on(instant: datetime, tz: ZoneInfo, today: date) -> str:
    """:func:`starting` for a known local date of "now"."""
    return f"from {_clock_on(instant, tz, today)}"


def ending(end: datetime, exact: bool, tz: ZoneInfo, now: datetime) -> str:
    """When something stops applying: "until 14:00 today", "until midnight tonight",
    "until the end of Sat 6 Dec".

    ``exact`` is False for a rule kept through a whole day (it ends at the next local
    midnight, ``end``): that is said as the last day it covers, or as "midnight tonight"
    when that is today, so a patient always sees a time within the next 24 hours.
    """
    return ending_on(end, exact, tz, now.astimezone(tz).date())


@lru_cache(maxsize=4096)
def ending_on(end: datetime, exact: bool, tz: ZoneInfo, today: date) -> str:
    """:func:`ending` for a known local date of "now"."""
    local = end.astimezone(tz)
    # An exact end that falls on midnight reads as the day it closes ("until midnight
    # tonight"), never "until tomorrow", which sounds like the whole of tomorrow.
    if exact and (local.hour, local.minute, local.second) != (0, 0, 0):
        return f"until {_clock_on(end, tz, today)}"
    last = (local - timedelta(microseconds=1)).date()
    if last == today:
        return "until midnight tonight"
    if last == today + timedelta(days=1):
        return "until the end of tomorrow"
    return f"until the end of {on(last, today)}"


def lower_first(text: str) -> str:
    """A title or phrase continuing a sentence: "Wear your stockings" -> "wear your
    stockings" (left alone when it starts with an abbreviation such as "NHS")."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
