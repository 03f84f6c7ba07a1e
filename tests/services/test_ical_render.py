"""The calendar as iCalendar text (issue 20 point 3), parsed back with ``icalendar``:
times in the patient's zone with its VTIMEZONE across clock changes, whole days as
dates, revisions, and titles with no health details."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.domain.calendar_events import TITLES
from app.domain.calendar_events import CourseSession
from app.domain.calendar_events import course_events
from app.domain.calendar_events import revise
from app.domain.protocol import parse_protocol
from app.services.ical.render import Words
from app.services.ical.render import render

PROTOCOLS = Path(__file__).resolve().parents[2] / "app" / "protocols"
P72 = parse_protocol((PROTOCOLS / "compression-72h.toml").read_text(), "72h")
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
HOST = "care.clinic.example"
WORDS = Words("My clinic appointments", TITLES, "Open ScleroCare.", "https://app.example/")


def _parsed(sessions: list[CourseSession], zone: str) -> list:
    events = course_events(sessions, ZoneInfo(zone), HOST, b"test uid key")
    body = render(events, revise({}, events, NOW), zone, WORDS)
    cal = Calendar.from_ical(body)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == [zone]
    return cal.walk("VEVENT")


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # London springs forward on Sun 29 Mar 2026, New York on Sun 8 Mar 2026.
        ("Europe/London", (2026, 3, 27), (2026, 3, 30)),
        ("America/New_York", (2026, 3, 6), (2026, 3, 9)),
    ],
)
def test_appointments_keep_their_wall_clock_time_across_the_clock_change(zone, before, after):
    tz = ZoneInfo(zone)
    at = [datetime(*day, 10, 0, tzinfo=tz).astimezone(UTC) for day in (before, after)]
    sessions = [CourseSession(i, "scheduled", a, None, P72) for i, a in enumerate(at, 1)]
    events = _parsed(sessions, zone)
    starts = [e.decoded("DTSTART") for e in events]
    # Both at 10:00 on the clinic's clock, and the instants are right (offsets differ).
    assert [(s.hour, s.minute) for s in starts] == [(10, 0), (10, 0)]
    assert [s.astimezone(UTC) for s in starts] == at
    assert starts[0].utcoffset() != starts[1].utcoffset()
    assert all(e["DTSTART"].params["TZID"] == zone for e in events)


def test_whole_days_are_dates_and_every_event_has_its_revision():
    treated = datetime(2026, 1, 10, 10, 0, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
    events = _parsed([CourseSession(1, "done", treated, treated, P72)], "Europe/London")
    days = [e.decoded("DTSTART") for e in events if type(e.decoded("DTSTART")) is date]
    assert date(2026, 1, 21) in days  # "day 11"
    for event in events:
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTAMP") == NOW == event.decoded("LAST-MODIFIED")
        assert str(event["SUMMARY"]) in ("Clinic appointment", "Aftercare")
        assert str(event["CLASS"]) == "PRIVATE"
        assert "https://app.example/" in str(event["DESCRIPTION"])


def test_a_cancelled_appointment_says_so():
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    (event,) = _parsed([CourseSession(1, "cancelled", at, None, P72)], "Europe/London")
    assert str(event["STATUS"]) == "CANCELLED"


def test_an_empty_course_is_still_a_calendar():
    body = render([], {}, "Europe/London", WORDS)
    cal = Calendar.from_ical(body)
    assert cal.walk("VEVENT") == [] and str(cal["X-WR-CALNAME"]) == "My clinic appointments"


def test_the_refresh_hints_are_durations_every_calendar_app_can_read():
    # Review rvical: X-PUBLISHED-TTL (what Outlook reads) was written as "1:00:00", a
    # Python timedelta's text, which is not an RFC 5545 duration; both hints say PT1H.
    lines = render([], {}, "Europe/London", WORDS).decode().split("\r\n")
    assert "X-PUBLISHED-TTL:PT1H" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines


def test_an_appointment_in_the_repeated_autumn_hour_keeps_its_length():
    """01:30 on the night London's clocks go back (31 Oct 2027) happens twice: an hour
    later is "01:30" again, which a reader takes as the first one, a 0-minute event."""
    start = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST, the first 01:30
    (event,) = _parsed([CourseSession(1, "scheduled", start, None, P72)], "Europe/London")
    begins, ends = event.decoded("DTSTART"), event.decoded("DTEND")
    assert begins.astimezone(UTC) == start
    assert ends.astimezone(UTC) - begins.astimezone(UTC) > timedelta(0)
    assert "TZID" not in event["DTEND"].params  # in UTC: "01:30" again reads as the first
    assert event["DTSTART"].params["TZID"] == "Europe/London"
