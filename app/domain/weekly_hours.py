"""Opening hours as the settings page shows them: a row per weekday, closed or open
with one or more opening and closing times.

The stored form stays the text that :mod:`app.domain.hours` reads ("Mon-Fri
08:30-18:00; Sat 09:00-13:00"), and its parser stays the one judge of what is valid:
rows become that text here and are then parsed, so a rule (overlaps, runs past
midnight) lives in one place. Each row is checked on its own first, so a mistake is
reported on its weekday's row.

A time input cannot hold 24:00, so a closing time of 00:00 means midnight at the end of
the day (the parser reads an end before the start as running past midnight, which is
the same interval), and 00:00 to 00:00 means open all day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.hours import DAY_NAMES
from app.domain.hours import DAYS
from app.domain.hours import HoursError
from app.domain.hours import OpeningHours
from app.domain.hours import parse_hours

_TIME = re.compile(r"^\d{1,2}:\d{2}$")
DAY_MINUTES = 24 * 60


class DayError(HoursError):
    """A weekday row that cannot be read; ``weekday`` is 0 for Monday."""

    def __init__(self, weekday: int, message: str):
        super().__init__(message)
        self.weekday = weekday


@dataclass(frozen=True)
class DayRow:
    """One weekday: open or closed, and its (opening, closing) times as "HH:MM" text."""

    open: bool
    times: tuple[tuple[str, str], ...] = ()


def _clock(minutes: int) -> str:
    minutes %= DAY_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def rows_from_hours(hours: OpeningHours) -> list[DayRow]:
    """Seven rows, Monday first, from parsed hours (intervals in the order they open)."""
    rows = []
    for day in range(7):
        times = tuple((_clock(i.start), _clock(i.end)) for i in hours.intervals if i.weekday == day)
        rows.append(DayRow(bool(times), times))
    return rows


def _piece(day: int, start: str, end: str) -> str | None:
    """One opening of a row as parser text ("08:30-18:00"), None when both are blank."""
    start, end = start.strip(), end.strip()
    if not start and not end:
        return None
    if not start or not end:
        raise DayError(day, f"{DAY_NAMES[day]}: give both an opening and a closing time.")
    for text in (start, end):
        # Checked before joining into the parser's text, whose ; , and - are separators.
        if not _TIME.match(text):
            shown = text if len(text) <= 20 else text[:20] + "..."
            raise DayError(day, f"{DAY_NAMES[day]}: '{shown}' is not a time; write it as 08:30.")
    if start in ("00:00", "0:00") and end in ("00:00", "0:00", "24:00"):
        end = "24:00"  # open all day
    return f"{start}-{end}"


def spec_from_rows(rows: Sequence[DayRow]) -> str:
    """The parser's text for seven rows ("" when every day is closed).

    :raises DayError: for a row that cannot be read, naming its weekday.
    :raises HoursError: for rows fine on their own that clash, such as Friday running
        past midnight into Saturday's opening.
    """
    if len(rows) != 7:
        raise HoursError("Give a row for each day of the week.")
    parts = []
    for day, row in enumerate(rows):
        if not row.open:
            continue
        pieces = [p for start, end in row.times if (p := _piece(day, start, end))]
        if not pieces:
            raise DayError(
                day, f"{DAY_NAMES[day]}: give the opening and closing times, or mark it closed."
            )
        part = f"{DAYS[day]} {', '.join(pieces)}"
        try:
            parse_hours(part)
        except HoursError as exc:
            raise DayError(day, f"{DAY_NAMES[day]}: {_without_prefix(str(exc), part)}") from None
        parts.append(part)
    spec = "; ".join(parts)
    parse_hours(spec)
    return spec


def _without_prefix(message: str, part: str) -> str:
    """The parser names the part it read ("Mon 09:00-09:00: ..."); the row says the day."""
    prefix = f"{part}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
