"""The next session's interval window and the too-soon rule (app/domain/booking.py)."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.booking import suggest
from app.domain.booking import too_soon
from app.domain.booking import window

TREATED = date(2026, 11, 17)  # a Tuesday
TODAY = date(2026, 11, 20)


def test_the_window_is_the_protocols_interval_counted_from_the_last_session():
    w = window(TREATED, 4, 12)
    assert (w.after, w.opens, w.closes) == (TREATED, date(2026, 12, 15), date(2027, 2, 9))


def test_the_suggestion_is_the_day_the_window_opens():
    assert suggest(TREATED, 4, 12, TODAY) == date(2026, 12, 15)
    assert suggest(TREATED, 6, 8, TODAY) == date(2026, 12, 29)


def test_with_no_session_yet_or_a_window_already_open_the_suggestion_is_tomorrow():
    assert suggest(None, 4, 12, TODAY) == date(2026, 11, 21)
    # Treated 5 weeks ago: the 4-week window opened last week, still open.
    assert suggest(TODAY - timedelta(weeks=5), 4, 12, TODAY) == date(2026, 11, 21)
    # Treated a year ago: overdue, the soonest date.
    assert suggest(TODAY - timedelta(days=365), 4, 12, TODAY) == date(2026, 11, 21)


def test_a_date_inside_the_minimum_interval_is_too_soon_and_names_the_opening():
    found = too_soon(date(2026, 12, 1), [TREATED], 4)
    assert found is not None
    assert (found.other, found.later, found.days_apart) == (TREATED, False, 14)
    assert found.opens == date(2026, 12, 15) and found.weeks_min == 4


def test_the_first_day_of_the_window_is_not_too_soon_the_day_before_is():
    assert too_soon(date(2026, 12, 15), [TREATED], 4) is None
    assert too_soon(date(2026, 12, 14), [TREATED], 4) is not None


def test_a_date_crowding_a_later_booked_session_is_too_soon_too():
    booked = date(2027, 1, 5)
    found = too_soon(date(2026, 12, 29), [TREATED, booked], 4)
    assert found is not None and found.other == booked and found.later
    assert found.days_apart == 7


def test_the_closest_session_is_named_and_no_minimum_means_never_too_soon():
    found = too_soon(date(2026, 12, 1), [TREATED, date(2026, 11, 30)], 4)
    assert found is not None and found.other == date(2026, 11, 30)
    assert too_soon(TREATED, [TREATED], 0) is None
    assert too_soon(TREATED, [], 4) is None


@given(
    last=st.dates(date(2000, 1, 1), date(2099, 1, 1)),
    today=st.dates(date(2000, 1, 1), date(2099, 1, 1)),
    weeks=st.tuples(st.integers(0, 26), st.integers(0, 26)),
)
def test_the_suggestion_is_never_too_soon_and_never_in_the_past(last, today, weeks):
    low, high = min(weeks), max(weeks)
    day = suggest(last, low, high, today)
    assert day > today
    assert too_soon(day, [last], low) is None
