"""The clock-change rule for local instants (app/domain/localtime.py).

A wall-clock time a clinician types (an appointment, when a treatment was done) becomes
a UTC instant; a time skipped when the clocks go forward is refused, a time repeated
when they go back is its first occurrence. The same reading gives the instants of
protocol offsets and opening hours (``local_instant``), which move past a gap instead.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.domain.localtime import NoSuchLocalTime
from app.domain.localtime import local_instant
from app.domain.localtime import local_to_utc

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# Zones with other kinds of change: southern summer, a skipped midnight, a 30-minute
# change, and a zone that once skipped a whole day (Kiritimati, 31 December 1994).
ZONES = [
    LONDON,
    NEW_YORK,
    ZoneInfo("Australia/Sydney"),
    ZoneInfo("America/Santiago"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Pacific/Kiritimati"),
    ZoneInfo("UTC"),
]

# Any wall time, with either fold: for both, local_to_utc answers as to_utc did.
WALL_TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def services_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """app/services/clinic (``to_utc``) before the rule moved here, without the form
    field: the behaviour ``local_to_utc`` must keep."""
    if local.tzinfo is not None:
        raise ValueError("expected a wall-clock (naive) time")
    instant = local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise NoSuchLocalTime(local, tz)
    return instant


@pytest.mark.parametrize(
    ("tz", "local", "expected"),
    [
        (LONDON, datetime(2026, 1, 15, 14, 0), utc(2026, 1, 15, 14, 0)),  # GMT
        (LONDON, datetime(2026, 7, 15, 14, 0), utc(2026, 7, 15, 13, 0)),  # BST
        (NEW_YORK, datetime(2026, 1, 15, 9, 30), utc(2026, 1, 15, 14, 30)),  # EST
        (NEW_YORK, datetime(2026, 7, 15, 9, 30), utc(2026, 7, 15, 13, 30)),  # EDT
        (LONDON, datetime(2026, 12, 31, 23, 59), utc(2026, 12, 31, 23, 59)),
        (NEW_YORK, datetime(2026, 12, 31, 23, 59), utc(2027, 1, 1, 4, 59)),
    ],
)
def test_normal_times_become_their_utc_instant(
    tz: ZoneInfo, local: datetime, expected: datetime
) -> None:
    instant = local_to_utc(local, tz)
    assert instant == expected
    assert instant.utcoffset() == timedelta(0)
    assert instant.tzinfo == ZoneInfo("UTC")  # as the services' to_utc answered


@pytest.mark.parametrize(
    ("tz", "skipped"),
    [
        # 29 March 2026 in London: 01:00 GMT becomes 02:00 BST.
        (LONDON, datetime(2026, 3, 29, 1, 0)),
        (LONDON, datetime(2026, 3, 29, 1, 30)),
        (LONDON, datetime(2026, 3, 29, 1, 59)),
        # 8 March 2026 in New York: 02:00 EST becomes 03:00 EDT.
        (NEW_YORK, datetime(2026, 3, 8, 2, 0)),
        (NEW_YORK, datetime(2026, 3, 8, 2, 30)),
        (NEW_YORK, datetime(2026, 3, 8, 2, 59)),
    ],
)
def test_a_time_skipped_when_the_clocks_go_forward_is_refused(
    tz: ZoneInfo, skipped: datetime
) -> None:
    with pytest.raises(NoSuchLocalTime) as refused:
        local_to_utc(skipped, tz)
    assert isinstance(refused.value, ValueError)
    assert (refused.value.local, refused.value.tz) == (skipped, tz)
    assert str(refused.value) == (
        f"{skipped:%H:%M} does not exist on that day in {tz.key}: the clocks go forward."
    )


def test_the_edges_of_the_spring_gap_exist() -> None:
    assert local_to_utc(datetime(2026, 3, 29, 0, 59), LONDON) == utc(2026, 3, 29, 0, 59)
    assert local_to_utc(datetime(2026, 3, 29, 2, 0), LONDON) == utc(2026, 3, 29, 1, 0)
    assert local_to_utc(datetime(2026, 3, 8, 1, 59), NEW_YORK) == utc(2026, 3, 8, 6, 59)
    assert local_to_utc(datetime(2026, 3, 8, 3, 0), NEW_YORK) == utc(2026, 3, 8, 7, 0)


def test_a_time_repeated_when_the_clocks_go_back_is_its_first_occurrence() -> None:
    # 25 October 2026 in London: 01:00-01:59 happens in BST, then again in GMT.
    assert local_to_utc(datetime(2026, 10, 25, 1, 30), LONDON) == utc(2026, 10, 25, 0, 30)
    assert local_to_utc(datetime(2026, 10, 25, 0, 59), LONDON) == utc(2026, 10, 24, 23, 59)
    assert local_to_utc(datetime(2026, 10, 25, 2, 0), LONDON) == utc(2026, 10, 25, 2, 0)
    # 1 November 2026 in New York: 01:00-01:59 happens in EDT, then again in EST.
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert local_to_utc(datetime(2026, 11, 1, 2, 0), NEW_YORK) == utc(2026, 11, 1, 7, 0)


def test_an_aware_time_is_refused_as_not_a_wall_clock_time() -> None:
    aware = datetime(2026, 7, 15, 14, 0, tzinfo=LONDON)
    with pytest.raises(ValueError, match="expected a wall-clock") as refused:
        local_to_utc(aware, LONDON)
    # Not a clock-change refusal: a caller turning NoSuchLocalTime into a form error
    # must not hide a programming error.
    assert not isinstance(refused.value, NoSuchLocalTime)
    with pytest.raises(ValueError, match="expected a wall-clock"):
        local_to_utc(datetime(2026, 7, 15, 14, 0, tzinfo=UTC), LONDON)


@settings(max_examples=500, deadline=None)
@given(WALL_TIMES, st.sampled_from(ZONES))
def test_behaves_as_the_services_to_utc_did(local: datetime, tz: ZoneInfo) -> None:
    try:
        expected = services_to_utc(local, tz)
    except NoSuchLocalTime:
        with pytest.raises(NoSuchLocalTime):
            local_to_utc(local, tz)
        return
    instant = local_to_utc(local, tz)
    assert instant == expected
    assert instant.tzinfo == expected.tzinfo


@settings(max_examples=500, deadline=None)
@given(WALL_TIMES.map(lambda local: local.replace(fold=0)), st.sampled_from(ZONES))
def test_one_rule_refusing_exactly_the_times_local_instant_moves(
    local: datetime, tz: ZoneInfo
) -> None:
    """Where the wall time exists both readings give the same instant; where it does
    not, local_instant moves it past the gap and local_to_utc refuses it. With
    ``fold=0``, as a form and a protocol give it."""
    lenient = local_instant(local.date(), local.time(), tz)
    if lenient.astimezone(tz).replace(tzinfo=None) == local:
        assert local_to_utc(local, tz) == lenient
    else:
        with pytest.raises(NoSuchLocalTime):
            local_to_utc(local, tz)
        assert lenient.astimezone(tz).replace(tzinfo=None) > local


def test_local_instant_moves_past_the_gap_and_takes_the_first_of_a_repeat() -> None:
    assert local_instant(date(2026, 3, 29), time(1, 30), LONDON) == utc(2026, 3, 29, 1, 30)
    assert local_instant(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 30)
    assert local_instant(date(2026, 10, 25), time(1, 30), LONDON) == utc(2026, 10, 25, 0, 30)
    assert local_instant(date(2026, 11, 1), time(1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
