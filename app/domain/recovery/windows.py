"""A protocol range turned into instants: when a rule starts and ends for one patient.

A range is resolved from the anchor (appointment or treatment) in the patient's time
zone, with the local dates it touches, so Today, the plan, the check-in and the
reminders all read one rule's edges the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.offsets import Offset
from app.domain.offsets import last_covered_date
from app.domain.offsets import local_date
from app.domain.offsets import resolve


@dataclass(frozen=True)
class Window:
    """A resolved range of instants, with the local dates it covers."""

    start: datetime
    end: datetime
    first_date: date
    last_date: date
    end_is_exact: bool  # True when the end is a clock time ("72h"), not a whole day

    def covers(self, instant: datetime) -> bool:
        """True while the rule applies: from start (inclusive) to end (exclusive)."""
        return self.start <= instant < self.end

    def covers_date(self, day: date) -> bool:
        """True when any part of this local date falls inside the window."""
        return self.first_date <= day <= self.last_date


def window(start_offset: Offset, end_offset: Offset, anchor: datetime, tz: ZoneInfo) -> Window:
    """Resolve a protocol range into instants and the local dates it touches."""
    start = resolve(start_offset, anchor, tz)
    end = resolve(end_offset, anchor, tz, end=True)
    return Window(
        start=start,
        end=end,
        first_date=local_date(start, tz),
        last_date=last_covered_date(end, tz),
        end_is_exact=end_offset.hours is not None or end_offset.at is not None,
    )
