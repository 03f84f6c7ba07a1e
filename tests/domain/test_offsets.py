"""Offsets: parsing, resolving to instants, day numbers, time zones and DST changes."""

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

from app.domain.offsets import Offset
from app.domain.offsets import OffsetSyntaxError
from app.domain.offsets import day_number
from app.domain.offsets import last_covered_date
from app.domain.offsets import local_date
from app.domain.offsets import local_instant
from app.domain.offsets import local_midnight
from app.domain.offsets import resolve
from app.domain.recovery import window

LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")
UTC_MINUS_12 = ZoneInfo("Etc/GMT+12")  # POSIX sign: Etc/GMT+12 is UTC-12
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14

H72 = Offset.parse("72h")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int) -> datetime:
    """An aware UTC instant from a local wall-clock time (first occurrence)."""
    return datetime(*args, tzinfo=tz).astimezone(UTC)


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("72h", Offset(hours=72)),
        ("0h", Offset(hours=0)),
        ("-24h", Offset(hours=-24)),
        ("+3h", Offset(hours=3)),
        (" 72 h ", Offset(hours=72)),
        ("day 14", Offset(day=14)),
        ("day 0", Offset(day=0)),
        ("day -7", Offset(day=-7)),
        ("day -1 18:00", Offset(day=-1, at=time(18, 0))),
        ("day 3 7:05", Offset(day=3, at=time(7, 5))),
        ("day 2 00:00", Offset(day=2, at=time(0, 0))),
        ("day 2 23:59", Offset(day=2, at=time(23, 59))),
    ],
)
def test_parse_accepts(text: str, expected: Offset) -> None:
    assert Offset.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "72",
        "h",
        "day",
        "3d",
        "3 days",
        "Day 3",
        "DAY 3",
        "72H",
        "72 hours",
        "day 3.5",
        "1.5h",
        "day 3 24:00",
        "day 3 12:60",
        "day 3 7:5",
        "day 3 18",
        "day +-3",
        "72h day 3",
        "123456h",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(OffsetSyntaxError):
        Offset.parse(text)


@pytest.mark.parametrize("value", [72, None, 3.0, ["72h"]])
def test_parse_refuses_non_text(value: object) -> None:
    with pytest.raises(OffsetSyntaxError, match="expected text"):
        Offset.parse(value)  # type: ignore[arg-type]


def test_parse_error_names_accepted_forms() -> None:
    with pytest.raises(OffsetSyntaxError) as info:
        Offset.parse("3 days")
    message = str(info.value)
    assert "'3 days'" in message
    assert "72h" in message and "day 14" in message


def test_impossible_time_of_day_is_named() -> None:
    with pytest.raises(OffsetSyntaxError, match="impossible time"):
        Offset.parse("day 1 25:00")


@pytest.mark.parametrize("text", ["72h", "-24h", "day 14", "day -1 18:00", "day 0"])
def test_str_round_trips(text: str) -> None:
    assert str(Offset.parse(text)) == text
    assert Offset.parse(str(Offset.parse(text))) == Offset.parse(text)


def test_rough_hours_orders_ranges() -> None:
    assert Offset.parse("72h").rough_hours() == 72
    assert Offset.parse("day 2").rough_hours() == 48
    assert Offset.parse("day -1 18:00").rough_hours() == -6
    # a bare "day N" as an end is the end of that day
    assert Offset.parse("day 2").rough_end_hours() == 72
    assert Offset.parse("day 2 06:30").rough_end_hours() == 54.5
    assert Offset.parse("10h").rough_end_hours() == 10


# ------------------------------------------------------------------ resolve


def test_resolve_hours_is_exact_span_from_anchor() -> None:
    anchor = utc(2024, 6, 10, 9, 15)
    assert resolve(H72, anchor, LONDON) == utc(2024, 6, 13, 9, 15)
    assert resolve(Offset.parse("-24h"), anchor, LONDON) == utc(2024, 6, 9, 9, 15)
    assert resolve(Offset.parse("0h"), anchor, LONDON) == anchor


def test_resolve_hours_ignores_zone() -> None:
    anchor = utc(2024, 6, 10, 9, 15)
    results = {resolve(H72, anchor, tz) for tz in (LONDON, SYDNEY, UTC_MINUS_12, KIRITIMATI)}
    assert results == {utc(2024, 6, 13, 9, 15)}


def test_resolve_returns_utc_for_non_utc_anchor() -> None:
    anchor = datetime(2024, 6, 10, 10, 0, tzinfo=LONDON)  # 09:00 UTC
    result = resolve(Offset.parse("2h"), anchor, LONDON)
    assert result.utcoffset() == timedelta(0)
    assert result == utc(2024, 6, 10, 11, 0)


def test_resolve_day_start_is_local_midnight() -> None:
    anchor = local(LONDON, 2024, 6, 10, 15, 0)
    start = resolve(Offset.parse("day 14"), anchor, LONDON)
    assert start.astimezone(LONDON) == datetime(2024, 6, 24, 0, 0, tzinfo=LONDON)
    assert start == utc(2024, 6, 23, 23, 0)  # BST: local midnight is 23:00 UTC


def test_resolve_day_end_is_end_of_that_day() -> None:
    anchor = local(LONDON, 2024, 6, 10, 15, 0)
    end = resolve(Offset.parse("day 14"), anchor, LONDON, end=True)
    assert end.astimezone(LONDON) == datetime(2024, 6, 25, 0, 0, tzinfo=LONDON)
    assert last_covered_date(end, LONDON) == date(2024, 6, 24)


def test_resolve_day_with_time_ignores_end_flag() -> None:
    anchor = local(LONDON, 2024, 6, 10, 15, 0)
    offset = Offset.parse("day -1 18:00")
    expected = local(LONDON, 2024, 6, 9, 18, 0)
    assert resolve(offset, anchor, LONDON) == expected
    assert resolve(offset, anchor, LONDON, end=True) == expected


def test_resolve_negative_day() -> None:
    anchor = local(LONDON, 2024, 6, 10, 15, 0)
    start = resolve(Offset.parse("day -7"), anchor, LONDON)
    assert start.astimezone(LONDON) == datetime(2024, 6, 3, 0, 0, tzinfo=LONDON)


def test_resolve_refuses_naive_anchor() -> None:
    with pytest.raises(ValueError, match="aware"):
        resolve(H72, datetime(2024, 6, 10, 9, 0), LONDON)


def test_day_is_counted_in_patient_zone_not_utc() -> None:
    # 20:00 on 10 June in Santiago (UTC-4) is already 11 June in UTC.
    anchor = local(SANTIAGO, 2024, 6, 10, 20, 0)
    assert anchor.date() == date(2024, 6, 11)
    start = resolve(Offset.parse("day 1"), anchor, SANTIAGO)
    assert start.astimezone(SANTIAGO).replace(tzinfo=None) == datetime(2024, 6, 11, 0, 0)


# ------------------------------------------------------------------ day_number


def test_day_number_is_zero_on_treatment_day_and_counts_dates() -> None:
    anchor = local(LONDON, 2024, 6, 10, 9, 0)
    assert day_number(anchor, anchor, LONDON) == 0
    assert day_number(anchor, local(LONDON, 2024, 6, 10, 0, 0), LONDON) == 0
    assert day_number(anchor, local(LONDON, 2024, 6, 11, 0, 0), LONDON) == 1
    assert day_number(anchor, local(LONDON, 2024, 6, 24, 12, 0), LONDON) == 14
    assert day_number(anchor, local(LONDON, 2024, 6, 9, 23, 59), LONDON) == -1
    assert day_number(anchor, local(LONDON, 2024, 6, 3, 8, 0), LONDON) == -7


def test_late_evening_treatment_is_day_zero_until_midnight() -> None:
    anchor = local(LONDON, 2024, 6, 10, 23, 30)
    assert day_number(anchor, anchor, LONDON) == 0
    assert day_number(anchor, local(LONDON, 2024, 6, 10, 23, 59, 59), LONDON) == 0
    assert day_number(anchor, local(LONDON, 2024, 6, 11, 0, 0), LONDON) == 1
    # half an hour after treatment it is already day 1
    assert day_number(anchor, anchor + timedelta(minutes=30), LONDON) == 1


def test_late_evening_treatment_day_end_covers_the_full_days() -> None:
    anchor = local(LONDON, 2024, 6, 10, 23, 30)
    w = window(Offset.parse("0h"), Offset.parse("day 14"), anchor, LONDON)
    assert w.first_date == date(2024, 6, 10)
    assert w.last_date == date(2024, 6, 24)
    assert w.covers(local(LONDON, 2024, 6, 24, 23, 59))
    assert not w.covers(local(LONDON, 2024, 6, 25, 0, 0))


def test_utc_minus_12_patient() -> None:
    # 13:00 on 10 June at UTC-12 is 01:00 on 11 June in UTC.
    anchor = local(UTC_MINUS_12, 2024, 6, 10, 13, 0)
    assert anchor == utc(2024, 6, 11, 1, 0)
    assert day_number(anchor, local(UTC_MINUS_12, 2024, 6, 10, 23, 59), UTC_MINUS_12) == 0
    assert day_number(anchor, utc(2024, 6, 11, 12, 0), UTC_MINUS_12) == 1  # local midnight
    start = resolve(Offset.parse("day 1"), anchor, UTC_MINUS_12)
    assert start == utc(2024, 6, 11, 12, 0)
    end = resolve(Offset.parse("day 1"), anchor, UTC_MINUS_12, end=True)
    assert end == utc(2024, 6, 12, 12, 0)
    assert last_covered_date(end, UTC_MINUS_12) == date(2024, 6, 11)


def test_kiritimati_patient() -> None:
    # 08:00 on 10 June at UTC+14 is 18:00 on 9 June in UTC.
    anchor = local(KIRITIMATI, 2024, 6, 10, 8, 0)
    assert anchor == utc(2024, 6, 9, 18, 0)
    late_same_day = local(KIRITIMATI, 2024, 6, 10, 23, 0)
    assert late_same_day == utc(2024, 6, 10, 9, 0)
    assert day_number(anchor, late_same_day, KIRITIMATI) == 0
    assert day_number(anchor, utc(2024, 6, 10, 10, 0), KIRITIMATI) == 1
    assert resolve(Offset.parse("day 0"), anchor, KIRITIMATI) == utc(2024, 6, 9, 10, 0)
    end = resolve(Offset.parse("day 0"), anchor, KIRITIMATI, end=True)
    assert end == utc(2024, 6, 10, 10, 0)


def test_same_instant_is_different_days_at_the_two_extremes() -> None:
    anchor = utc(2024, 6, 10, 11, 0)  # 23:00 on 9 June at UTC-12, 01:00 on 11 June at UTC+14
    later = utc(2024, 6, 10, 13, 0)  # 01:00 on 10 June at UTC-12, 03:00 on 11 June at UTC+14
    assert day_number(anchor, later, UTC_MINUS_12) == 1
    assert day_number(anchor, later, KIRITIMATI) == 0


# ------------------------------------------------------------------ DST


def test_72h_is_72_real_hours_across_london_spring_change() -> None:
    # Clocks went forward at 01:00 UTC on 31 March 2024.
    anchor = local(LONDON, 2024, 3, 29, 10, 0)
    end = resolve(H72, anchor, LONDON)
    assert end - anchor == timedelta(hours=72)
    assert end.astimezone(LONDON).replace(tzinfo=None) == datetime(2024, 4, 1, 11, 0)


def test_72h_is_72_real_hours_across_london_autumn_change() -> None:
    # Clocks went back at 01:00 UTC on 27 October 2024.
    anchor = local(LONDON, 2024, 10, 25, 10, 0)
    end = resolve(H72, anchor, LONDON)
    assert end - anchor == timedelta(hours=72)
    assert end.astimezone(LONDON).replace(tzinfo=None) == datetime(2024, 10, 28, 9, 0)


def test_72h_across_sydney_spring_change() -> None:
    # Clocks went forward from 02:00 to 03:00 on 6 October 2024.
    anchor = local(SYDNEY, 2024, 10, 4, 10, 0)
    end = resolve(H72, anchor, SYDNEY)
    assert end - anchor == timedelta(hours=72)
    assert end.astimezone(SYDNEY).replace(tzinfo=None) == datetime(2024, 10, 7, 11, 0)


def test_day_start_on_london_change_days_is_midnight() -> None:
    anchor = local(LONDON, 2024, 3, 30, 12, 0)
    start = resolve(Offset.parse("day 1"), anchor, LONDON)  # 31 March, spring change
    assert start == utc(2024, 3, 31, 0, 0)
    assert start.astimezone(LONDON).time() == time(0, 0)
    anchor = local(LONDON, 2024, 10, 26, 12, 0)
    start = resolve(Offset.parse("day 1"), anchor, LONDON)  # 27 October, autumn change
    assert start == utc(2024, 10, 26, 23, 0)
    assert start.astimezone(LONDON).time() == time(0, 0)


def test_london_spring_day_is_23_hours_and_autumn_day_25() -> None:
    anchor = local(LONDON, 2024, 3, 30, 12, 0)
    w = window(Offset.parse("day 1"), Offset.parse("day 1"), anchor, LONDON)
    assert w.end - w.start == timedelta(hours=23)
    assert w.first_date == w.last_date == date(2024, 3, 31)
    anchor = local(LONDON, 2024, 10, 26, 12, 0)
    w = window(Offset.parse("day 1"), Offset.parse("day 1"), anchor, LONDON)
    assert w.end - w.start == timedelta(hours=25)
    assert w.first_date == w.last_date == date(2024, 10, 27)


def test_day_number_across_london_autumn_repeated_hour() -> None:
    anchor = local(LONDON, 2024, 10, 26, 12, 0)
    first_0130 = utc(2024, 10, 27, 0, 30)  # 01:30 BST
    second_0130 = utc(2024, 10, 27, 1, 30)  # 01:30 GMT
    assert day_number(anchor, first_0130, LONDON) == 1
    assert day_number(anchor, second_0130, LONDON) == 1


def test_sydney_day_starts_at_midnight_across_changes() -> None:
    for day in (date(2024, 10, 6), date(2024, 4, 7)):
        start = local_midnight(day, SYDNEY)
        assert start.astimezone(SYDNEY).replace(tzinfo=None) == datetime.combine(day, time())
        assert local_date(start - timedelta(microseconds=1), SYDNEY) == day - timedelta(days=1)


def test_santiago_day_start_when_midnight_does_not_exist() -> None:
    # On 8 September 2024 Chilean clocks jumped from 00:00 (-04) to 01:00 (-03):
    # local midnight never happened. "day 1" must start at the first real instant.
    anchor = local(SANTIAGO, 2024, 9, 7, 15, 0)
    start = resolve(Offset.parse("day 1"), anchor, SANTIAGO)
    assert start == utc(2024, 9, 8, 4, 0)
    shown = start.astimezone(SANTIAGO)
    assert shown.date() == date(2024, 9, 8)
    assert shown.time() == time(1, 0)
    assert shown.utcoffset() == timedelta(hours=-3)
    # a real instant: converting back gives the same instant, and just before it
    # is still the previous day
    assert shown.astimezone(UTC) == start
    assert local_date(start - timedelta(microseconds=1), SANTIAGO) == date(2024, 9, 7)
    # "day 0" as an end stops exactly there
    end = resolve(Offset.parse("day 0"), anchor, SANTIAGO, end=True)
    assert end == start
    assert last_covered_date(end, SANTIAGO) == date(2024, 9, 7)


def test_santiago_day_number_across_missing_midnight() -> None:
    anchor = local(SANTIAGO, 2024, 9, 7, 15, 0)
    assert day_number(anchor, utc(2024, 9, 8, 3, 59, 59), SANTIAGO) == 0
    assert day_number(anchor, utc(2024, 9, 8, 4, 0), SANTIAGO) == 1


def test_santiago_72h_across_spring_change() -> None:
    anchor = local(SANTIAGO, 2024, 9, 7, 23, 30)
    end = resolve(H72, anchor, SANTIAGO)
    assert end - anchor == timedelta(hours=72)
    assert end.astimezone(SANTIAGO).replace(tzinfo=None) == datetime(2024, 9, 11, 0, 30)


def test_santiago_autumn_change_day_is_25_hours() -> None:
    # On 6 April 2024 at 24:00 (-03) clocks went back to 23:00 (-04).
    anchor = local(SANTIAGO, 2024, 4, 5, 12, 0)
    w = window(Offset.parse("day 1"), Offset.parse("day 1"), anchor, SANTIAGO)
    assert w.first_date == w.last_date == date(2024, 4, 6)
    assert w.end - w.start == timedelta(hours=25)
    # the repeated 23:30 is still 6 April both times
    assert day_number(anchor, utc(2024, 4, 7, 2, 30), SANTIAGO) == 1
    assert day_number(anchor, utc(2024, 4, 7, 3, 30), SANTIAGO) == 1
    assert day_number(anchor, utc(2024, 4, 7, 4, 0), SANTIAGO) == 2


def test_local_instant_in_gap_moves_past_it_and_overlap_takes_first() -> None:
    # 01:30 on 31 March 2024 does not exist in London
    assert local_instant(date(2024, 3, 31), time(1, 30), LONDON) == utc(2024, 3, 31, 1, 30)
    assert local_instant(date(2024, 3, 31), time(1, 30), LONDON).astimezone(LONDON).time() == (
        time(2, 30)
    )
    # 01:30 on 27 October 2024 happens twice; the first time is BST
    assert local_instant(date(2024, 10, 27), time(1, 30), LONDON) == utc(2024, 10, 27, 0, 30)


def test_last_covered_date_exact_midnight_and_mid_day() -> None:
    assert last_covered_date(local(LONDON, 2024, 6, 11, 0, 0), LONDON) == date(2024, 6, 10)
    assert last_covered_date(local(LONDON, 2024, 6, 11, 0, 1), LONDON) == date(2024, 6, 11)


# ------------------------------------------------------------------ properties

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]

anchors = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.integers(min_value=0, max_value=120)


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, tz=zones, n=days)
def test_day_n_end_last_date_is_anchor_date_plus_n(anchor: datetime, tz: ZoneInfo, n: int) -> None:
    w = window(Offset.parse("0h"), Offset.parse(f"day {n}"), anchor, tz)
    assert w.last_date == local_date(anchor, tz) + timedelta(days=n)
    assert w.first_date == local_date(anchor, tz)
    assert not w.end_is_exact


@settings(max_examples=300, deadline=None)
@given(
    anchor=anchors,
    tz=zones,
    n=days,
    fraction=st.floats(min_value=0, max_value=1),
    beyond=st.floats(min_value=0, max_value=30 * 86400),
)
def test_day_n_restriction_active_through_last_date_only(
    anchor: datetime, tz: ZoneInfo, n: int, fraction: float, beyond: float
) -> None:
    w = window(Offset.parse("0h"), Offset.parse(f"day {n}"), anchor, tz)
    # an instant between the start and the end: its local date is <= last_date and it is covered
    span_us = (w.end - w.start) // timedelta(microseconds=1)
    inside = w.start + timedelta(microseconds=min(int(span_us * fraction), span_us - 1))
    assert local_date(inside, tz) <= w.last_date
    assert w.covers(inside)
    # the last microsecond of the last date is covered, the first instant after is not
    last_moment = w.end - timedelta(microseconds=1)
    assert local_date(last_moment, tz) == w.last_date
    assert w.covers(last_moment)
    assert local_date(w.end, tz) == w.last_date + timedelta(days=1)
    assert not w.covers(w.end)
    # any instant whose local date is after last_date is not covered
    after = w.end + timedelta(seconds=beyond)
    assert local_date(after, tz) > w.last_date
    assert not w.covers(after)
    # nothing before the start is covered
    assert not w.covers(w.start - timedelta(microseconds=1))


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, tz=zones, n=st.integers(min_value=-30, max_value=120))
def test_day_n_start_is_first_real_instant_of_local_day(
    anchor: datetime, tz: ZoneInfo, n: int
) -> None:
    start = resolve(Offset.parse(f"day {n}"), anchor, tz)
    target = local_date(anchor, tz) + timedelta(days=n)
    assert start.utcoffset() == timedelta(0)
    assert start.astimezone(tz).date() == target
    # the first real instant of that date: one microsecond earlier is the day before
    assert local_date(start - timedelta(microseconds=1), tz) == target - timedelta(days=1)
    assert day_number(anchor, start, tz) == n


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, tz=zones, hours=st.integers(min_value=-200, max_value=2000))
def test_hours_are_exact_real_hours(anchor: datetime, tz: ZoneInfo, hours: int) -> None:
    assert resolve(Offset(hours=hours), anchor, tz) - anchor == timedelta(hours=hours)


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, tz=zones)
def test_day_number_of_anchor_is_zero(anchor: datetime, tz: ZoneInfo) -> None:
    assert day_number(anchor, anchor, tz) == 0


@settings(max_examples=300, deadline=None)
@given(
    anchor=anchors,
    tz=zones,
    steps=st.lists(st.integers(min_value=0, max_value=3 * 86400), min_size=1, max_size=30),
)
def test_day_number_never_decreases(anchor: datetime, tz: ZoneInfo, steps: list[int]) -> None:
    now = anchor
    previous = day_number(anchor, now, tz)
    for seconds in steps:
        now += timedelta(seconds=seconds)
        current = day_number(anchor, now, tz)
        assert current >= previous
        # no local day is shorter than 22 hours, so no day number is skipped
        assert current - previous <= seconds // (22 * 3600) + 1
        previous = current
