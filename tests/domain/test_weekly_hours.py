"""Opening hours as weekday rows (app/domain/weekly_hours.py): to and from the text
app/domain/hours.py parses, with each mistake on its own day."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.hours import HoursError
from app.domain.hours import Interval
from app.domain.hours import OpeningHours
from app.domain.hours import format_hours
from app.domain.hours import parse_hours
from app.domain.weekly_hours import DayError
from app.domain.weekly_hours import DayRow
from app.domain.weekly_hours import rows_from_hours
from app.domain.weekly_hours import spec_from_rows

CLOSED = DayRow(False)


def week(**days: DayRow) -> list[DayRow]:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return [days.get(name, CLOSED) for name in names]


def test_rows_become_the_parsers_text():
    rows = week(
        mon=DayRow(True, (("08:30", "12:30"), ("13:30", "18:00"))),
        sat=DayRow(True, (("9:00", "13:00"), ("", ""))),
    )
    assert spec_from_rows(rows) == "Mon 08:30-12:30, 13:30-18:00; Sat 9:00-13:00"


def test_a_closed_day_ignores_its_times_and_all_closed_is_never_open():
    assert spec_from_rows(week(mon=DayRow(False, (("08:30", "18:00"),)))) == ""


def test_midnight_closing_and_open_all_day():
    rows = week(fri=DayRow(True, (("20:00", "00:00"),)), sun=DayRow(True, (("00:00", "00:00"),)))
    hours = parse_hours(spec_from_rows(rows))
    assert format_hours(hours) == "Fri 20:00-24:00; Sun 00:00-24:00"
    shown = rows_from_hours(hours)
    assert shown[4] == DayRow(True, (("20:00", "00:00"),))
    assert shown[6] == DayRow(True, (("00:00", "00:00"),))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (DayRow(True, (("9", "17:00"),)), "Tuesday: '9' is not a time; write it as 08:30."),
        (DayRow(True, (("09:00", ""),)), "Tuesday: give both an opening and a closing time."),
        (DayRow(True, (("", ""),)), "Tuesday: give the opening and closing times, or mark"),
        (DayRow(True, ()), "Tuesday: give the opening and closing times, or mark"),
        (DayRow(True, (("09:00", "09:00"),)), "Tuesday: '09:00-09:00' starts and ends at the"),
        (DayRow(True, (("25:00", "26:00"),)), "Tuesday: '25:00' is not a time"),
        # The parser's separators cannot be smuggled in through a time.
        (DayRow(True, (("09:00-10:00; Sun 01:00", "02:00"),)), "Tuesday: '09:00-10:00; Sun 01"),
        (DayRow(True, (("09:00", "13:00"), ("12:00", "17:00"))), "overlaps"),
    ],
)
def test_a_bad_row_names_its_day(row, message):
    with pytest.raises(DayError) as caught:
        spec_from_rows(week(tue=row))
    assert caught.value.weekday == 1
    assert message in str(caught.value)


def test_rows_fine_alone_that_clash_across_midnight_are_refused():
    rows = week(fri=DayRow(True, (("20:00", "10:00"),)), sat=DayRow(True, (("09:00", "12:00"),)))
    with pytest.raises(HoursError) as caught:
        spec_from_rows(rows)
    assert not isinstance(caught.value, DayError)
    assert "Fri 20:00-10:00 overlaps Sat 09:00-12:00." in str(caught.value)


def test_seven_rows_are_needed():
    with pytest.raises(HoursError):
        spec_from_rows([CLOSED] * 6)


@st.composite
def opening_hours(draw) -> OpeningHours:
    """Up to two non-overlapping intervals a day, within the day (30-minute steps)."""
    intervals = []
    for day in range(7):
        marks = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        for start, end in zip(marks[::2], marks[1::2], strict=False):
            intervals.append(Interval(day, start * 30, (end - start) * 30))
    return OpeningHours(tuple(sorted(intervals)))


@given(opening_hours())
def test_rows_round_trip_through_the_parser(hours):
    assert parse_hours(spec_from_rows(rows_from_hours(hours))) == hours
