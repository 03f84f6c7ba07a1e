"""Booking on the night the clocks go back: 01:30 happens twice in London on Sunday
31 October 2027. The one time box is read as the first 01:30 (summer time); the
clinician is told so on the patient page, for a booking and for a move. Before, the
booking was accepted silently and the reminders could run an hour from what the
clinician had in mind.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.localtime import happens_twice
from app.extensions import db
from app.models import Treatment
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_booking import _ids
from tests.web.test_booking import _vid
from tests.web.test_booking import _when

LONDON = ZoneInfo("Europe/London")
NOTE = "The clocks go back that night, so 01:30 happens twice."


def test_a_wall_time_happens_twice_only_in_the_autumn_hour():
    assert happens_twice(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), LONDON)  # 01:30 BST
    assert happens_twice(datetime(2027, 10, 31, 1, 30, tzinfo=UTC), LONDON)  # 01:30 GMT
    assert not happens_twice(datetime(2027, 10, 31, 2, 30, tzinfo=UTC), LONDON)
    assert not happens_twice(datetime(2027, 3, 28, 1, 30, tzinfo=UTC), LONDON)  # spring
    assert not happens_twice(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), ZoneInfo("UTC"))


def _book(client, world, in_app, day, month, year, time):
    data = {"protocol": _vid(in_app, world), "confirm_soon": "y", **_when(day, month, year, time)}
    return client.post(f"/clinic/patients/{world.patient_a}/sessions", data=data)


def test_booking_at_a_repeated_time_says_which_one_it_is(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, in_app, "31", "10", "2027", "01:30")
    assert r.status_code == 303
    page = text_of(client.get(r.headers["Location"]))
    assert "Session booked." in page
    assert NOTE in page and "first 01:30 (BST, before the change)" in page
    new = _ids(in_app, world.patient_a)[-1]
    at = in_app(lambda: db.session.get(Treatment, new).appointment_at)
    assert at.replace(tzinfo=UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_an_ordinary_time_gets_no_such_note(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, in_app, "31", "10", "2027", "10:30")
    page = text_of(client.get(r.headers["Location"]))
    assert "Session booked." in page and "clocks go back" not in page


def test_moving_a_session_to_a_repeated_time_says_so(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, in_app, "20", "10", "2027", "10:00")
    client.get(r.headers["Location"])  # the booking's own message, read
    new = _ids(in_app, world.patient_a)[-1]
    r = client.post(
        f"/clinic/sessions/{new}/reschedule",
        data={"confirm_soon": "y", **_when("31", "10", "2027", "01:30")},
    )
    assert r.status_code == 303
    page = text_of(client.get(r.headers["Location"]))
    assert "Appointment moved." in page and NOTE in page
