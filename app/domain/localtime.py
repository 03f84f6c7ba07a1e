"""Wall-clock times in a time zone as instants: the one clock-change rule.

A wall-clock time is read with PEP 495 ``fold=0``, that is with the zone's offset from
before any change at that moment:

* a time repeated when the clocks go back is its first occurrence (01:30 on the
  autumn morning in London is 00:30 UTC, still summer time);
* a time skipped when the clocks go forward never happens. A rule that must still
  name an instant (a protocol's "day 3 00:00", a clinic opening at 01:30 that night)
  uses :func:`local_instant`, which reads it with the offset from before the change
  and so lands past the gap (01:30 in London on the spring morning is 02:30 summer
  time). A time a person typed (an appointment, when a treatment was done) goes
  through :func:`local_to_utc`, which refuses it with :class:`NoSuchLocalTime`: they
  meant a moment that did not happen, and guessing one would move their plan.

Pure: the zone is an argument; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

# local_to_utc answers in this zone object, as the services' to_utc it replaces always
# did, so wiring it in changes nothing (the instants are equal to datetime.UTC ones).
_UTC_ZONE = ZoneInfo("UTC")


class NoSuchLocalTime(ValueError):
    """A wall-clock time skipped when the clocks go forward: it never happens in the zone.

    The message is the one a patient's clinician reads next to the field.
    """

    def __init__(self, local: datetime, tz: ZoneInfo):
        self.local = local
        self.tz = tz
        super().__init__(
            f"{local:%H:%M} does not exist on that day in {tz.key}: the clocks go forward."
        )


def _read(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of a naive wall-clock time in ``tz``, read with its ``fold``."""
    return wall.replace(tzinfo=tz).astimezone(UTC)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time.

    PEP 495 semantics with ``fold=0``: a wall time inside a spring-forward gap maps past
    the gap (00:00 that never happened becomes 01:00 local), and a repeated wall time
    in an autumn overlap maps to its first occurrence.
    """
    return _read(datetime.combine(day, at), tz)


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time someone entered, in the zone ``tz``, as an aware UTC instant.

    A time repeated when the clocks go back is its first occurrence (for a naive
    ``local`` with the default ``fold=0``).

    :raises ValueError: for an aware ``local``: it is an instant already, not a wall time.
    :raises NoSuchLocalTime: for a time skipped when the clocks go forward.
    """
    if local.tzinfo is not None:
        raise ValueError("expected a wall-clock (naive) time")
    instant = _read(local, tz)
    # A skipped time reads back as another wall time (01:30 comes back as 02:30).
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise NoSuchLocalTime(local, tz)
    return instant.astimezone(_UTC_ZONE)


def happens_twice(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether the wall-clock time of ``instant`` in ``tz`` happens twice that night
    (the clocks go back: 01:30 in London on the autumn morning is 00:30 and 01:30 UTC).

    A wall time typed for such a night is read as its first occurrence
    (:func:`local_to_utc`); the person who typed it is told which one they got.
    """
    wall = instant.astimezone(tz).replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    return first != second
