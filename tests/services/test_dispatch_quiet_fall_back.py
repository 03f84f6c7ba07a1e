"""The dispatcher at the second 01:10 of the night the clocks go back, for a patient
whose quiet hours end at 01:30 (tests/domain/test_quiet_hours_fall_back.py has the
rule): the row waits once, until the second 01:30, and the loop ends.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta

from app.services.notify import dispatch
from tests.services.test_dispatch_exactly_once import _patient_with_rows


def test_the_dispatcher_holds_the_row_once_and_stops(app, in_app, push_service, sender):
    """End to end, with the clock pinned at the second 01:10: one batch puts the row
    back until the second 01:30 and the loop ends (before: it never returned)."""
    at = datetime(2027, 10, 31, 1, 10, tzinfo=UTC)
    in_app(
        _patient_with_rows,
        push_service,
        ["comment"],
        due=at - timedelta(minutes=1),
        quiet=(time(21), time(1, 30)),
    )
    reads = []

    def clock():
        reads.append(1)
        assert len(reads) < 50, "run_until_empty is still claiming the same row"
        return at

    report = in_app(dispatch.run_until_empty, sender, clock)
    assert report.later == 1 and report.sent == 0
    again = in_app(dispatch.run_until_empty, sender, at + timedelta(minutes=20))
    assert again.sent == 1
