"""Opening hours (app/domain/hours.py): open or closed, the next opening, whom to call.

Issue 14 point 3: on a Sunday at 04:22 a patient with calf pain must be sent to the
out-of-hours line, not to a closed clinic, and told when the clinic opens.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.domain.hours import Call
from app.domain.hours import HoursError
from app.domain.hours import OpeningHours
from app.domain.hours import ascii_digits
from app.domain.hours import dialable
from app.domain.hours import format_hours
from app.domain.hours import is_open
from app.domain.hours import next_opening
from app.domain.hours import opening_phrase
from app.domain.hours import parse_hours
from app.domain.hours import same_day_route

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = parse_hours("Mon-Fri 08:30-18:00; Sat 09:00-13:00")
CLINIC = Call("North Clinic", "01632 960 111", "01632960111")
NHS111 = Call("NHS 111", "111", "111")


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold).astimezone(UTC)


def test_the_sunday_0422_calf_pain_case_goes_to_out_of_hours_first():
    sunday = local(LONDON, 2026, 12, 6, 4, 22)
    assert not is_open(WEEKDAYS, LONDON, sunday)
    route = same_day_route(WEEKDAYS, LONDON, sunday, CLINIC, NHS111)
    assert route.calls[0] == NHS111 and not route.open
    assert route.opens_at == local(LONDON, 2026, 12, 7, 8, 30)
    assert opening_phrase(route.opens_at, LONDON, sunday) == "at 08:30 tomorrow"


def test_open_hours_put_the_clinic_first():
    tuesday = local(LONDON, 2026, 12, 8, 10, 0)
    route = same_day_route(WEEKDAYS, LONDON, tuesday, CLINIC, NHS111)
    assert route.open and route.calls == (CLINIC, NHS111) and route.opens_at is None


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ((2026, 12, 7, 8, 29), False),  # Monday, a minute before opening
        ((2026, 12, 7, 8, 30), True),  # opening minute is open
        ((2026, 12, 7, 17, 59), True),
        ((2026, 12, 7, 18, 0), False),  # closing minute is closed
        ((2026, 12, 12, 12, 59), True),  # Saturday morning
        ((2026, 12, 12, 13, 0), False),
        ((2026, 12, 13, 12, 0), False),  # Sunday: closed all day
    ],
)
def test_boundaries(wall, expected):
    assert is_open(WEEKDAYS, LONDON, local(LONDON, *wall)) is expected


def test_next_opening_skips_closed_days_and_says_the_day():
    saturday_evening = local(LONDON, 2026, 12, 12, 14, 0)
    opens = next_opening(WEEKDAYS, LONDON, saturday_evening)
    assert opens == local(LONDON, 2026, 12, 14, 8, 30)
    assert opening_phrase(opens, LONDON, saturday_evening) == "at 08:30 on Monday"
    before_today = local(LONDON, 2026, 12, 8, 7, 0)
    assert opening_phrase(next_opening(WEEKDAYS, LONDON, before_today), LONDON, before_today) == (
        "at 08:30 today"
    )


def test_lunch_break_two_intervals_a_day():
    hours = parse_hours("Mon 09:00-12:30, 13:30-17:00")
    lunch = local(LONDON, 2026, 12, 7, 13, 0)
    assert not is_open(hours, LONDON, lunch)
    assert next_opening(hours, LONDON, lunch) == local(LONDON, 2026, 12, 7, 13, 30)


def test_interval_past_midnight_is_open_after_midnight_and_on_the_right_day():
    hours = parse_hours("Fri 20:00-02:00")
    assert is_open(hours, LONDON, local(LONDON, 2026, 12, 11, 23, 0))  # Friday night
    assert is_open(hours, LONDON, local(LONDON, 2026, 12, 12, 1, 59))  # Saturday 01:59
    assert not is_open(hours, LONDON, local(LONDON, 2026, 12, 12, 2, 0))
    assert not is_open(hours, LONDON, local(LONDON, 2026, 12, 10, 1, 0))  # Thursday 01:00


def test_open_until_midnight_and_all_day():
    hours = parse_hours("Sun 00:00-24:00")
    assert is_open(hours, LONDON, local(LONDON, 2026, 12, 6, 0, 0))
    assert is_open(hours, LONDON, local(LONDON, 2026, 12, 6, 23, 59))
    assert not is_open(hours, LONDON, local(LONDON, 2026, 12, 7, 0, 0))
    assert format_hours(hours) == "Sun 00:00-24:00"


def test_empty_hours_are_never_open_and_never_open_next():
    empty = parse_hours("")
    assert not empty and empty == OpeningHours()
    now = local(LONDON, 2026, 12, 8, 10, 0)
    assert not is_open(empty, LONDON, now)
    assert next_opening(empty, LONDON, now) is None
    route = same_day_route(empty, LONDON, now, CLINIC, NHS111)
    assert route.calls[0] == NHS111 and route.opens_at is None


def test_closed_without_an_out_of_hours_line_says_so():
    route = same_day_route(WEEKDAYS, LONDON, local(LONDON, 2026, 12, 6, 4, 22), CLINIC, None)
    assert route.no_out_of_hours and route.calls == (CLINIC,)


# ------------------------------------------------------------------ clock changes


def test_spring_forward_london_opening_hour_in_the_gap():
    # 29 March 2026: 01:00 GMT -> 02:00 BST; 01:30 does not exist on the wall.
    hours = parse_hours("Sun 01:30-03:00")
    before = local(LONDON, 2026, 3, 29, 0, 30)
    opens = next_opening(hours, LONDON, before)
    # Read with the offset before the change: 01:30 GMT, which the wall shows as 02:30.
    assert opens == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert opens.astimezone(LONDON).hour == 2
    assert is_open(hours, LONDON, datetime(2026, 3, 29, 1, 45, tzinfo=UTC))
    assert not is_open(hours, LONDON, datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 03:00 BST


def test_spring_forward_ordinary_day_hours_are_wall_clock():
    # The Monday after the change: 08:30 BST is 07:30 UTC, not 08:30 UTC.
    assert is_open(WEEKDAYS, LONDON, datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert not is_open(WEEKDAYS, LONDON, datetime(2026, 3, 30, 7, 29, tzinfo=UTC))
    # Friday before it, GMT: 08:30 is 08:30 UTC.
    assert not is_open(WEEKDAYS, LONDON, datetime(2026, 3, 27, 8, 29, tzinfo=UTC))
    assert is_open(WEEKDAYS, LONDON, datetime(2026, 3, 27, 8, 30, tzinfo=UTC))


def test_fall_back_overnight_interval_lasts_the_extra_hour():
    # 25 October 2026: 02:00 BST -> 01:00 GMT. Open Sat 22:00 - Sun 03:00 wall clock:
    # six real hours that night (22:00 BST = 21:00 UTC to 03:00 GMT = 03:00 UTC).
    hours = parse_hours("Sat 22:00-03:00")
    assert is_open(hours, LONDON, datetime(2026, 10, 24, 21, 0, tzinfo=UTC))
    assert is_open(hours, LONDON, local(LONDON, 2026, 10, 25, 1, 30, fold=1))  # 2nd 01:30
    assert is_open(hours, LONDON, datetime(2026, 10, 25, 2, 59, tzinfo=UTC))
    assert not is_open(hours, LONDON, datetime(2026, 10, 25, 3, 0, tzinfo=UTC))


def test_new_york_clock_changes():
    hours = parse_hours("Sun 09:00-12:00")
    # 8 March 2026 (clocks forward at 02:00): 09:00 EDT = 13:00 UTC.
    assert is_open(hours, NEW_YORK, datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    assert not is_open(hours, NEW_YORK, datetime(2026, 3, 8, 12, 59, tzinfo=UTC))
    # 1 November 2026 (clocks back): 09:00 EST = 14:00 UTC.
    assert not is_open(hours, NEW_YORK, datetime(2026, 11, 1, 13, 30, tzinfo=UTC))
    assert is_open(hours, NEW_YORK, datetime(2026, 11, 1, 14, 0, tzinfo=UTC))


def test_patient_in_another_zone_reads_the_opening_in_their_own_time():
    sunday = local(LONDON, 2026, 12, 6, 4, 22)
    opens = next_opening(WEEKDAYS, LONDON, sunday)
    # 04:22 Sunday in London is 23:22 Saturday in New York: Monday is two days away there.
    assert opening_phrase(opens, NEW_YORK, sunday) == "at 03:30 on Monday"


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=2 * 366 * 24 * 60),
    tz=st.sampled_from([LONDON, NEW_YORK, ZoneInfo("Australia/Sydney")]),
)
def test_property_closed_now_means_open_at_next_opening_and_closed_just_before(minutes, tz):
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    hours = parse_hours("Mon-Fri 08:30-18:00; Sat 09:00-13:00; Sun 23:30-01:00")
    opens = next_opening(hours, tz, now)
    assert opens is not None and opens > now
    assert is_open(hours, tz, opens)
    assert opens - now <= timedelta(days=7, hours=1)
    if not is_open(hours, tz, now):
        # Nothing opens in between: just before the next opening it is still closed.
        assert not is_open(hours, tz, opens - timedelta(minutes=1))


# ------------------------------------------------------------------ reading and writing


def test_summary_round_trips_and_joins_days():
    spec = "Mon 08:30-18:00; Tue 08:30-18:00; Wednesday 08:30-18:00; Thu-Fri 08:30-18:00"
    assert format_hours(parse_hours(spec)) == "Mon-Fri 08:30-18:00"
    text = "Mon-Fri 08:30-12:30, 13:30-18:00; Sat 09:00-13:00; Sun 22:00-02:00"
    assert format_hours(parse_hours(text)) == text
    assert parse_hours(format_hours(parse_hours(text))) == parse_hours(text)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Mon 9-5", "is not a time"),
        ("Funday 08:00-10:00", "is not a day"),
        ("Fri-Mon 08:00-10:00", "runs backwards"),
        ("Mon", "give the times"),
        ("Mon 08:00", "needs a start and an end"),
        ("Mon 25:00-26:00", "is not a time"),
        ("Mon 24:00-02:00", "cannot start at 24:00"),
        ("Mon 08:00-08:00", "same time"),
        ("Mon 08:00-12:00, 11:00-13:00", "overlaps"),
        ("Mon 20:00-09:00; Tue 08:00-10:00", "overlaps"),
        ("Sun 22:00-09:00; Mon 08:00-10:00", "overlaps"),
        ("Mon 08:00-09:00;" * 60, "at most"),
    ],
)
def test_bad_hours_are_refused_with_a_clear_message(spec, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(spec)


def test_dialable_keeps_plus_and_digits():
    assert dialable("+44 (0)1632 960-000") == "+4401632960000"
    assert dialable("01632 960 000") == "01632960000"
    assert dialable("111") == "111"


def test_digits_in_other_scripts_are_written_in_ascii():
    # Full-width (a Japanese or Chinese keyboard) and Arabic-Indic digits, and full-width
    # signs: "１１２" is 112 to a caller, and a tel: link may carry only ASCII digits.
    assert ascii_digits("１１２") == "112"
    assert ascii_digits("٠١٦٣٢ ٩٦٠ ٠٠٠") == "01632 960 000"
    assert ascii_digits("＋４４\u3000（０）") == "+44 (0)"
    # Anything that is not a digit stays as typed, for the check that follows to refuse.
    assert ascii_digits("99x²\u202e") == "99x²\u202e"


@pytest.mark.parametrize(
    "stored, link",
    [
        ("１１２", "112"),
        ("٠١٦٣٢ ٩٦٠ ٠٠٠", "01632960000"),
        ("＋４４ １６３２", "+441632"),
        ("9²9", "99"),
    ],
)
def test_dialable_is_only_ever_ascii_digits_and_plus(stored, link):
    # A number stored before its check was strict still makes a link a phone can dial.
    assert dialable(stored) == link
