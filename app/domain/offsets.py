"""Offsets relative to an appointment or a treatment, and how they become instants.

A protocol never names a calendar date: every rule is an offset from an anchor (the
appointment for the checklist, the treatment for aftercare). Two kinds exist, because
clinics speak in both:

* hours, e.g. ``"72h"`` or ``"-24h"``: an exact span from the anchor instant
  ("stockings day and night for 72 hours", "no lotions 24 hours before");
* days, e.g. ``"day 14"`` or ``"day -1 18:00"``: a day of the patient's own calendar,
  counted in their time zone, where day 0 is the date of the anchor ("no waxing for
  4 weeks" is kept through the whole of day 28).

As a *start*, ``"day N"`` means 00:00 local on day N; as an *end*, it means the end of
that day (00:00 local on day N+1), so the day itself is still covered. This is the
conservative reading: a patient treated late in the evening still gets every full day
the clinic asked for.

No clock, no Flask: the anchor, the time zone and "now" are always arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.localtime import local_instant

_HOURS = re.compile(r"^\s*([+-]?\d{1,5})\s*h\s*$")
_DAY = re.compile(r"^\s*day\s+([+-]?\d{1,4})(?:\s+(\d{1,2}):(\d{2}))?\s*$")


class OffsetSyntaxError(ValueError):
    """The text is not an offset such as ``72h``, ``-24h``, ``day 14`` or ``day -1 18:00``."""


@dataclass(frozen=True, order=True)
class Offset:
    """A point relative to an anchor: ``hours`` after it, or local ``day`` (+ ``at``)."""

    hours: int | None = None
    day: int | None = None
    at: time | None = None

    @classmethod
    def parse(cls, text: str) -> Offset:
        """Parse ``"72h"``, ``"-24h"``, ``"day 14"`` or ``"day -1 18:00"``.

        :raises OffsetSyntaxError: for anything else, with the accepted forms named.
        """
        if not isinstance(text, str):
            raise OffsetSyntaxError(
                f"expected text such as '72h' or 'day 14', got {type(text).__name__}"
            )
        m = _HOURS.match(text)
        if m:
            return cls(hours=int(m.group(1)))
        m = _DAY.match(text)
        if m:
            at = None
            if m.group(2) is not None:
                hh, mm = int(m.group(2)), int(m.group(3))
                if hh > 23 or mm > 59:
                    raise OffsetSyntaxError(f"'{text}' has an impossible time of day")
                at = time(hh, mm)
            return cls(day=int(m.group(1)), at=at)
        raise OffsetSyntaxError(
            f"'{text}' is not an offset; use hours like '72h' or '-24h', "
            "or a day like 'day 14' or 'day -1 18:00'"
        )

    def __str__(self) -> str:
        if self.hours is not None:
            return f"{self.hours}h"
        suffix = f" {self.at:%H:%M}" if self.at else ""
        return f"day {self.day}{suffix}"

    def rough_hours(self) -> float:
        """Hours from the anchor, ignoring time zones: only for ordering checks."""
        if self.hours is not None:
            return float(self.hours)
        extra = (self.at.hour + self.at.minute / 60) if self.at else 0.0
        return (self.day or 0) * 24 + extra

    def rough_end_hours(self) -> float:
        """Like :meth:`rough_hours`, but a bare ``day N`` ends at the end of that day."""
        if self.day is not None and self.at is None:
            return ((self.day or 0) + 1) * 24.0
        return self.rough_hours()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, as an aware UTC datetime.

    Some zones skip midnight when clocks go forward (e.g. America/Santiago in
    September): 00:00 does not exist there, and the day starts at 01:00. Converting a
    non-existent wall time with ``fold=0`` lands after the gap, which is what we want.
    """
    return local_instant(day, time(0, 0), tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The patient's calendar date at an instant."""
    return instant.astimezone(tz).date()


def day_number(anchor: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Day N after the anchor in the patient's calendar: 0 on the anchor's own date.

    Negative before it (day -1 is the day before the appointment).
    """
    return (local_date(now, tz) - local_date(anchor, tz)).days


def resolve(offset: Offset, anchor: datetime, tz: ZoneInfo, *, end: bool = False) -> datetime:
    """The UTC instant an offset names for this anchor in this time zone.

    :param end: read a bare ``day N`` as the end of that day (00:00 of day N+1).
    """
    if anchor.tzinfo is None:
        raise ValueError("anchor must be an aware datetime")
    if offset.hours is not None:
        return (anchor.astimezone(UTC) + timedelta(hours=offset.hours)).astimezone(UTC)
    base = local_date(anchor, tz) + timedelta(days=offset.day or 0)
    if offset.at is not None:
        return local_instant(base, offset.at, tz)
    if end:
        return local_midnight(base + timedelta(days=1), tz)
    return local_midnight(base, tz)


def last_covered_date(end_instant: datetime, tz: ZoneInfo) -> date:
    """The last local date on which something ending at ``end_instant`` still applies.

    A rule that ends exactly at local midnight no longer applies on the new day.
    """
    return local_date(end_instant - timedelta(microseconds=1), tz)
