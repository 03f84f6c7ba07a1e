"""A clinic's opening hours: is it open now, when does it open next, whom to call.

Same-day advice ("call the clinic today") is only safe when the clinic can answer: on a
Sunday at 04:22 the first number a patient with calf pain sees must be the out-of-hours
route (the clinic's own out-of-hours number, or the national urgent-care line the clinic
names, NHS 111 in the UK; ref 2.6 urgent tier, "if the clinic is closed, call your
out-of-hours or urgent care service").

Hours are written per weekday as wall-clock intervals in the *clinic's* time zone::

    Mon-Fri 08:30-18:00; Sat 09:00-12:30, 13:30-16:00

An interval may end at 24:00, or before it starts, which means it runs past midnight
into the next day (``Fri 20:00-02:00``). No hours at all means "never open": the
out-of-hours route is always first.

Pure: the time zone and the instant are arguments. Every comparison is between UTC
instants, so clock changes need no special case: wall-clock times become instants by
the app's one rule (:func:`app.domain.localtime.local_instant`): a time skipped when
the clocks go forward is read with the offset before the change (01:30 on the spring
morning in London is 02:30 BST, when the clock reaches that point), and a repeated one
as its first occurrence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import format_day
from app.domain.language import say
from app.domain.localtime import local_instant

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_INDEX = {name.lower(): i for i, name in enumerate(DAYS)} | {
    name.lower(): i for i, name in enumerate(DAY_NAMES)
}
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
MAX_SPEC = 400


class HoursError(ValueError):
    """Opening hours that cannot be read; the message says what to fix."""


@dataclass(frozen=True, order=True)
class Interval:
    """Open on ``weekday`` (0 = Monday) from ``start`` minutes after local midnight for
    ``length`` minutes (which may run past midnight into the next day)."""

    weekday: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length

    def label(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end % (24 * 60) or 24 * 60)}"

    def describe(self) -> str:
        return f"{DAYS[self.weekday]} {self.label()}"


@dataclass(frozen=True)
class OpeningHours:
    """A week of opening intervals; empty means never open."""

    intervals: tuple[Interval, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.intervals)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str, where: str) -> int:
    found = _CLOCK.match(text.strip())
    if not found:
        raise HoursError(f"{where}: '{text.strip()}' is not a time; write it as 08:30.")
    minutes = int(found.group(1)) * 60 + int(found.group(2))
    if minutes > 24 * 60:
        raise HoursError(f"{where}: '{text.strip()}' is after 24:00.")
    return minutes


def _days(text: str, where: str) -> list[int]:
    """'Mon', 'Monday', 'Mon-Fri' or 'Sat-Sun' as weekday numbers."""
    first, dash, last = text.strip().lower().partition("-")
    if first not in _DAY_INDEX or (dash and last not in _DAY_INDEX):
        raise HoursError(f"{where}: '{text.strip()}' is not a day; use Mon, Tue ... Sun.")
    start = _DAY_INDEX[first]
    stop = _DAY_INDEX[last] if dash else start
    if stop < start:
        raise HoursError(f"{where}: '{text.strip()}' runs backwards; write Mon-Fri.")
    return list(range(start, stop + 1))


def parse_hours(spec: str) -> OpeningHours:
    """Read ``"Mon-Fri 08:30-18:00; Sat 09:00-13:00"``; blank means never open.

    :raises HoursError: naming the part that is wrong, e.g. "Sat 9-1: '9' is not a time".
    """
    if len(spec) > MAX_SPEC:
        raise HoursError(f"Opening hours must be at most {MAX_SPEC} characters.")
    intervals: list[Interval] = []
    for part in (p.strip() for p in spec.replace("\n", ";").split(";")):
        if not part:
            continue
        days_text, _, times_text = part.partition(" ")
        if not times_text.strip():
            raise HoursError(f"{part}: give the times after the day, e.g. 'Mon 08:30-18:00'.")
        days = _days(days_text, part)
        for piece in times_text.split(","):
            start_text, dash, end_text = piece.strip().partition("-")
            if not dash:
                raise HoursError(
                    f"{part}: '{piece.strip()}' needs a start and an end, 08:30-18:00."
                )
            start, end = _minutes(start_text, part), _minutes(end_text, part)
            if start == 24 * 60:
                raise HoursError(f"{part}: an interval cannot start at 24:00; use 00:00.")
            if start == end:
                raise HoursError(f"{part}: '{piece.strip()}' starts and ends at the same time.")
            # An end at or before the start runs past midnight into the next day.
            length = end - start if end > start else end + 24 * 60 - start
            intervals.extend(Interval(day, start, length) for day in days)
    _check_overlaps(intervals)
    return OpeningHours(tuple(sorted(set(intervals))))


def _check_overlaps(intervals: list[Interval]) -> None:
    week = 7 * 24 * 60
    spans = sorted((i.weekday * 24 * 60 + i.start, i) for i in intervals)
    for (start_a, a), (start_b, b) in zip(spans, spans[1:], strict=False):
        if start_a + a.length > start_b:
            raise HoursError(f"{a.describe()} overlaps {b.describe()}.")
    if spans:  # the last interval of the week may run into Monday morning
        start_z, z = spans[-1]
        start_a, a = spans[0]
        if start_z + z.length > week + start_a:
            raise HoursError(f"{z.describe()} overlaps {a.describe()}.")


def format_hours(hours: OpeningHours) -> str:
    """The human summary, with runs of days that share their times joined:
    "Mon-Fri 08:30-18:00; Sat 09:00-13:00" (closed days left out); "" when never open."""
    by_day = [", ".join(i.label() for i in hours.intervals if i.weekday == day) for day in range(7)]
    parts: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and by_day[last + 1] == by_day[day]:
            last += 1
        if by_day[day]:
            days = DAYS[day] if last == day else f"{DAYS[day]}-{DAYS[last]}"
            parts.append(f"{days} {by_day[day]}")
        day = last + 1
    return "; ".join(parts)


def _spans(hours: OpeningHours, tz: ZoneInfo, first: date, days: int):
    """(open, close) UTC instants of every interval starting on the local dates
    ``first`` .. ``first + days - 1``, in order."""
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        for i in hours.intervals:
            if i.weekday != day.weekday():
                continue
            opens = _instant(day, i.start, tz)
            closes = _instant(day, i.end, tz)
            out.append((opens, closes))
    return sorted(out)


def _instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time ``minutes`` after midnight of local ``day``
    (more than a day's minutes fall on the following dates)."""
    day = day + timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    return local_instant(day, time(minutes // 60, minutes % 60), tz)


def is_open(hours: OpeningHours, tz: ZoneInfo, now: datetime) -> bool:
    """Whether the clinic is open at the instant ``now`` (aware)."""
    today = now.astimezone(tz).date()
    # Yesterday's intervals may run past midnight into today.
    return any(o <= now < c for o, c in _spans(hours, tz, today - timedelta(days=1), 2))


def next_opening(hours: OpeningHours, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The next instant after ``now`` at which an interval starts (UTC), or None when
    the clinic is never open. An interval already under way does not count: this is
    "when can I next reach them" for a clinic that is closed now."""
    if not hours:
        return None
    today = now.astimezone(tz).date()
    # Eight days ahead always holds the next start of a weekly timetable.
    for opens, _ in _spans(hours, tz, today, 9):
        if opens > now:
            return opens
    return None  # pragma: no cover - a non-empty week always opens within 8 days


def opening_phrase(opens: datetime, tz: ZoneInfo, now: datetime) -> str:
    """ "at 08:30 today", "at 08:30 tomorrow", "at 08:30 on Monday" (within a week),
    else "at 08:30 on Monday 14 December", in the zone ``tz`` (the reader's)."""
    local = opens.astimezone(tz)
    days = (local.date() - now.astimezone(tz).date()).days
    clock = f"{local:%H:%M}"
    # Said whole in the reader's language (app/domain/language.py, issue 19 point 4).
    if days == 0:
        return say(N_("at %(time)s today"), time=clock)
    if days == 1:
        return say(N_("at %(time)s tomorrow"), time=clock)
    style = "weekday" if days < 7 else "long"
    return say(N_("at %(time)s on %(day)s"), time=clock, day=format_day(local.date(), style))


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit written in ASCII, and the full-width forms of
    ASCII signs (U+FF01 to U+FF5E, the ideographic space) as ASCII: "１１２" and "١١٢"
    are "112", "＋４４" is "+44".

    A full-width keyboard (a Japanese or Chinese input method) or an Arabic-Indic one
    types these, and a ``tel:`` link may carry only ASCII digits (RFC 3966): what a
    phone's dialler does with "tel:１１２" is up to the phone. Nothing else changes, so
    a check after this still sees letters and other signs as typed.
    """
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif "\uff01" <= ch <= "\uff5e":
            out.append(chr(ord(ch) - 0xFEE0))
        elif ch == "\u3000":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def dialable(number: str) -> str:
    """A phone number as a ``tel:`` link wants it: a leading + and the ASCII digits only.

    Digits in other scripts are written in ASCII and everything else dropped, so even a
    number stored before its check was strict makes a link a phone can dial.
    """
    text = ascii_digits(number).strip()
    digits = re.sub(r"[^0-9]", "", text)
    return f"+{digits}" if text.startswith("+") else digits


@dataclass(frozen=True)
class Call:
    """A call button: whom (for its text) and the number as shown and as dialled."""

    who: str
    shown: str
    number: str


@dataclass(frozen=True)
class ContactRoute:
    """Whom a patient with a same-day problem should call now, in order.

    ``calls[0]`` is the first (biggest) button. ``opens_at`` is the next opening when
    closed (None when open, or when the clinic has no hours at all).
    """

    open: bool
    opens_at: datetime | None
    calls: tuple[Call, ...]
    # Closed with no out-of-hours number configured: tell the patient to use their
    # local urgent-care service (the page cannot dial one it does not know).
    no_out_of_hours: bool = False


def same_day_route(
    hours: OpeningHours,
    tz: ZoneInfo,
    now: datetime,
    clinic: Call,
    out_of_hours: Call | None,
) -> ContactRoute:
    """Open: the clinic first, the out-of-hours route second (in case nobody answers).
    Closed: the out-of-hours route first, the clinic second (its voicemail may say more),
    and when it opens next. Never open (no hours): as closed, without an opening time."""
    if is_open(hours, tz, now):
        calls = (clinic,) + ((out_of_hours,) if out_of_hours else ())
        return ContactRoute(True, None, calls)
    calls = ((out_of_hours,) if out_of_hours else ()) + (clinic,)
    return ContactRoute(False, next_opening(hours, tz, now), calls, out_of_hours is None)
