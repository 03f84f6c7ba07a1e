"""Quiet hours ending inside the hour repeated when the clocks go back.

A patient in Europe/London with quiet hours 21:00 to 01:30: on 31 Oct 2027 the wall
times 01:00 to 02:00 happen twice. A reminder due at the second 01:10 was told to wait
until the *first* 01:30, an instant already past; the dispatcher put it back as
pending for that instant, claimed it again at once and spun until 01:30 GMT, not
counting an attempt (adversarial review, 2026-12-08). The end of quiet hours is never
at or before the instant it is asked about, on any night, in any zone.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.reminders import QuietHours
from app.domain.reminders import after_quiet_hours
from app.domain.reminders import decide_at_send

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_in_the_repeat_the_end_is_the_second_occurrence():
    quiet = QuietHours(time(21), time(1, 30))
    second = datetime(2027, 10, 31, 1, 10, tzinfo=UTC)  # 01:10 GMT, the second 01:10
    assert after_quiet_hours(second, LONDON, quiet) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    first = datetime(2027, 10, 31, 0, 10, tzinfo=UTC)  # 01:10 BST, the first
    assert after_quiet_hours(first, LONDON, quiet) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "night"),
    [
        (LONDON, datetime(2027, 10, 30, 18, tzinfo=UTC)),
        (LONDON, datetime(2027, 3, 27, 18, tzinfo=UTC)),  # spring forward, for contrast
        (NEW_YORK, datetime(2027, 11, 6, 22, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("end", [time(1), time(1, 30), time(1, 59), time(2), time(8)])
def test_later_is_always_after_now_across_the_change(tz, night, end):
    quiet = QuietHours(time(21), end)
    for minute in range(0, 14 * 60, 5):
        now = night + timedelta(minutes=minute)
        moved = after_quiet_hours(now, tz, quiet)
        assert moved >= now, (now, moved)
        decision = decide_at_send(
            kind="daily",
            due=now,
            expires=now + timedelta(days=1),
            now=now,
            tz=tz,
            quiet=quiet,
            time_critical=False,
        )
        assert decision.action in ("send", "later")
        if decision.action == "later":
            assert decision.at > now, (now, decision)
            # and then it is sent: the end of quiet hours is not itself quiet
            assert after_quiet_hours(decision.at, tz, quiet) == decision.at
