"""Plain-English dates and times for patients: "tomorrow 10:00", "Sat 6 Dec".

Pure functions: the instant, the time zone and "now" are arguments.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
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
