"""Booking and recording follow the clinic (issue 19 point 2): the record form opens
pre-filled, the booking form defaults to the patient's last protocol and its interval
window, a date inside the minimum interval is a warning to confirm, and date errors say
what is wrong, per box, for any input."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from tests.conftest import login
from tests.conftest import text_of
from tests.conftest import version_id


def _ids(in_app, patient_id: int) -> list[int]:
    return in_app(
        lambda: list(
            db.session.scalars(
                sa.select(Treatment.id)
                .where(Treatment.patient_id == patient_id)
                .order_by(Treatment.id)
            )
        )
    )


def _vid(in_app, world, key: str = "compression-72h") -> int:
    return in_app(lambda: version_id(db.session.get(Clinic, world.clinic1), key))


def _when(day: str, month: str, year: str, time: str = "10:00") -> dict[str, str]:
    return {"date-day": day, "date-month": month, "date-year": year, "time": time}


def _boxes(html: str, name: str = "date") -> tuple[str, str, str]:
    found = [
        re.search(rf'name="{name}-{box}"[^>]*value="([^"]*)"', html).group(1)
        for box in ("day", "month", "year")
    ]
    return tuple(found)


def _selected(html: str) -> str:
    return re.search(r'<option selected value="(\d+)"|<option value="(\d+)" selected', html).group(
        0
    )


def _book(client, world, **data):
    return client.post(f"/clinic/patients/{world.patient_a}/sessions", data=data)


# ------------------------------------------------------------------ record pre-fill


def test_record_form_opens_with_the_booked_date_and_time(client, world, in_app):
    (bob_session,) = _ids(in_app, world.patient_b)  # booked tomorrow, 10:00 London
    login(client, "doc1@north.example")
    html = client.get(f"/clinic/sessions/{bob_session}/record").get_data(as_text=True)
    assert _boxes(html) == ("21", "11", "2026")
    assert re.search(r'name="time"[^>]*value="10:00"', html)
    # Nothing recorded for Bob yet: the compression his protocol prescribes.
    assert re.search(
        r'name="compression"[^>]*value="Day and night for 72 hours, then daytime only', html
    )


def test_record_form_reads_the_booked_time_in_the_patients_zone_in_summer(client, world, in_app):
    """09:00 UTC on 15 June is 10:00 in London (summer time), 05:00 in New York."""
    login(client, "doc1@north.example")

    def book_summer() -> int:
        alice = db.session.get(Patient, world.patient_a)
        alice.timezone = "America/New_York"
        t = Treatment(
            patient=alice,
            protocol_version_id=version_id(db.session.get(Clinic, world.clinic1)),
            appointment_at=datetime(2027, 6, 15, 9, 0, tzinfo=UTC),
        )
        db.session.add(t)
        db.session.commit()
        return t.id

    tid = in_app(book_summer)
    html = client.get(f"/clinic/sessions/{tid}/record").get_data(as_text=True)
    assert _boxes(html) == ("15", "6", "2027")
    assert re.search(r'name="time"[^>]*value="05:00"', html)


def test_record_form_carries_the_last_sessions_details_but_not_the_areas(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, protocol=_vid(in_app, world), **_when("15", "12", "2026", "11:30"))
    assert r.status_code == 303
    new = _ids(in_app, world.patient_a)[-1]
    html = client.get(f"/clinic/sessions/{new}/record").get_data(as_text=True)
    assert _boxes(html) == ("15", "12", "2026")
    assert re.search(r'name="time"[^>]*value="11:30"', html)
    assert re.search(r'name="sclerosant"[^>]*value="Polidocanol"', html)
    assert re.search(r'checked[^>]*value="liquid"|value="liquid"[^>]*checked', html)
    assert re.search(r'name="areas"[^>]*value=""', html) or 'name="areas" required' in html


def test_correcting_a_recorded_session_opens_with_its_own_values(client, world, in_app):
    (done,) = _ids(in_app, world.patient_a)  # treated Tue 17 Nov 10:00, left calf
    login(client, "doc1@north.example")
    html = client.get(f"/clinic/sessions/{done}/record").get_data(as_text=True)
    assert _boxes(html) == ("17", "11", "2026")
    assert re.search(r'name="time"[^>]*value="10:00"', html)
    assert re.search(r'name="areas"[^>]*value="left calf"', html)


# ------------------------------------------------------------------ booking defaults


def test_booking_form_defaults_to_the_patients_last_protocol_and_its_window(client, world, in_app):
    """Alice is on the 72-hour protocol (4-12 weeks between sessions), treated Tue 17 Nov;
    her clinic's default is another protocol."""

    def other_default() -> None:
        db.session.get(Clinic, world.clinic1).default_protocol_key = "compression-24h"
        db.session.commit()

    in_app(other_default)
    login(client, "doc1@north.example")
    html = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    form = html.split("Book another session")[1]
    assert f'value="{_vid(in_app, world)}"' in _selected(form)
    assert _boxes(form) == ("15", "12", "2026")  # 4 weeks after 17 Nov
    text = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "the next is due from Tue 15 Dec 2026 to Tue 9 Feb 2027" in text


def test_a_cancelled_session_does_not_set_the_default_protocol(client, world, in_app):
    login(client, "doc1@north.example")
    other = _vid(in_app, world, "compression-24h")
    r = _book(client, world, protocol=other, **_when("5", "1", "2027"))
    assert r.status_code == 303
    later = _ids(in_app, world.patient_a)[-1]
    html = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f'value="{other}"' in _selected(html.split("Book another session")[1])
    client.post(f"/clinic/sessions/{later}/cancel", data={"confirm": "yes"})
    html = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f'value="{_vid(in_app, world)}"' in _selected(html.split("Book another session")[1])


# ------------------------------------------------------------------ the interval warning


def test_booking_inside_the_minimum_interval_warns_and_books_only_when_confirmed(
    client, world, in_app
):
    login(client, "doc1@north.example")
    when = {"protocol": _vid(in_app, world), **_when("1", "12", "2026")}
    r = _book(client, world, **when)
    assert r.status_code == 200
    text = text_of(r)
    assert "only 14 days after the session on Tue 17 Nov 2026" in text
    assert "the window opens on Tue 15 Dec 2026" in text
    assert "Book it anyway" in text
    assert _boxes(r.get_data(as_text=True)) == ("1", "12", "2026")  # kept as typed
    assert len(_ids(in_app, world.patient_a)) == 1
    r = _book(client, world, confirm_soon="y", **when)
    assert r.status_code == 303 and r.headers["Location"].endswith("#sessions")
    assert len(_ids(in_app, world.patient_a)) == 2


def test_booking_inside_the_window_needs_no_confirmation(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, protocol=_vid(in_app, world), **_when("15", "12", "2026"))
    assert r.status_code == 303
    # A second one a week later crowds the first: warned, naming it.
    r = _book(client, world, protocol=_vid(in_app, world), **_when("22", "12", "2026"))
    assert r.status_code == 200 and "after the session on Tue 15 Dec 2026" in text_of(r)


def test_moving_inside_the_minimum_interval_warns_too_and_moves_when_confirmed(
    client, world, in_app
):
    login(client, "doc1@north.example")
    assert (
        _book(client, world, protocol=_vid(in_app, world), **_when("15", "12", "2026")).status_code
        == 303
    )
    booked = _ids(in_app, world.patient_a)[-1]
    url = f"/clinic/sessions/{booked}/reschedule"
    # A day later: still in the window; the session does not crowd itself.
    assert client.post(url, data=_when("16", "12", "2026")).status_code == 303
    r = client.post(url, data=_when("1", "12", "2026"))
    assert r.status_code == 200 and "the window opens on Tue 15 Dec 2026" in text_of(r)
    assert "Move it anyway" in text_of(r)
    at = in_app(lambda: db.session.get(Treatment, booked).appointment_at)
    assert at.isoformat() == "2026-12-16T10:00:00+00:00"
    r = client.post(url, data={**_when("1", "12", "2026"), "confirm_soon": "y"})
    assert r.status_code == 303
    at = in_app(lambda: db.session.get(Treatment, booked).appointment_at)
    assert at.isoformat() == "2026-12-01T10:00:00+00:00"


# ------------------------------------------------------------------ date messages


BAD_DATES = [
    (_when("17", "11", "2025"), "That date is in the past."),
    (_when("17", "11", "2029"), "That date is more than 2 years ahead."),
    (_when("31", "2", "2027"), "Enter a real date: February 2027 has 28 days."),
    (_when("29", "2", "2027"), "Enter a real date: February 2027 has 28 days."),
    (_when("", "", ""), "Enter a date, for example 17 3 2027."),
    (_when("17", "", "2027"), "The date must include a month."),
    (_when("", "", "2027"), "The date must include a day and a month."),
    (_when("32", "13", "27"), "Day must be a number from 1 to 31."),
    (_when("9" * 5000, "3", "2027"), "Day must be a number from 1 to 31."),
    (_when("١٧", "3", "2027"), "Day must be a number from 1 to 31."),
    (_when("17", "3", "1999"), "Year must be between 2000 and 2099."),
    (_when("17", "March", "2027"), "Month must be a number from 1 to 12."),
    (_when("28", "3", "2027", "01:30"), "01:30 does not exist on that day in Europe/London"),
    (_when("28", "3", "2027", "25:00"), "Enter a time in 24-hour format, for example 14:30."),
    (_when("28", "3", "2027", ""), "Enter a time, for example 14:30."),
]


@pytest.mark.parametrize(("when", "message"), BAD_DATES)
def test_booking_says_what_is_wrong_with_a_date(client, world, in_app, when, message):
    login(client, "doc1@north.example")
    r = _book(client, world, protocol=_vid(in_app, world), confirm_soon="y", **when)
    assert r.status_code == 400
    assert message in text_of(r)
    assert "check the year" not in text_of(r)
    assert len(_ids(in_app, world.patient_a)) == 1


def test_a_wrong_box_is_marked_and_the_others_are_not(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, protocol=_vid(in_app, world), **_when("17", "13", "2027"))
    html = r.get_data(as_text=True)
    assert re.search(r'id="date-month"[^>]*aria-invalid="true"', html)
    assert not re.search(r'id="date-day"[^>]*aria-invalid', html)


def test_29_february_of_a_leap_year_is_a_date(client, world, in_app):
    login(client, "doc1@north.example")
    r = _book(client, world, protocol=_vid(in_app, world), **_when("29", "2", "2028"))
    assert r.status_code == 303
    at = in_app(lambda: db.session.get(Treatment, _ids(in_app, world.patient_a)[-1]).appointment_at)
    assert at.isoformat() == "2028-02-29T10:00:00+00:00"


@pytest.mark.parametrize(("when", "message"), BAD_DATES[:4] + BAD_DATES[-3:])
def test_moving_an_appointment_gets_the_same_messages(client, world, in_app, when, message):
    (bob_session,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/sessions/{bob_session}/reschedule", data=when)
    assert r.status_code == 400
    assert message in text_of(r) and "Move appointment" in text_of(r)
    at = in_app(lambda: db.session.get(Treatment, bob_session).appointment_at)
    assert at.isoformat() == "2026-11-21T10:00:00+00:00"


def test_recording_a_future_time_says_so(client, world, in_app):
    (bob_session,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    data = {
        **_when("21", "11", "2026", "10:00"),
        "sclerosant": "STS",
        "form": "liquid",
        "areas": "calf",
        "checks_done": "y",
    }
    r = client.post(f"/clinic/sessions/{bob_session}/record", data=data)
    assert r.status_code == 400 and "That time is in the future." in text_of(r)
    r = client.post(f"/clinic/sessions/{bob_session}/record", data={**data, "date-year": "2024"})
    assert r.status_code == 400 and "That date is more than 1 year ago." in text_of(r)
    status = in_app(lambda: db.session.get(Treatment, bob_session).status)
    assert status == TreatmentStatus.SCHEDULED


def test_the_new_patient_form_uses_the_date_boxes(client, world, in_app):
    login(client, "doc1@north.example")
    html = client.get("/clinic/patients/new").get_data(as_text=True)
    for box in ("day", "month", "year"):
        assert f'name="date-{box}"' in html
    assert "For example, 17 3 2027" in text_of(client.get("/clinic/patients/new"))


# ------------------------------------------------------------------ another clinic


def test_another_clinics_clinician_gets_404_for_every_session_form(client, world, in_app):
    (bob_session,) = _ids(in_app, world.patient_b)
    login(client, "doc2@south.example")
    good = {"protocol": _vid(in_app, world), **_when("15", "12", "2026")}
    for data in (good, {**good, "date-day": "x"}):
        assert _book(client, world, **data).status_code == 404
        url = f"/clinic/sessions/{bob_session}/reschedule"
        assert client.post(url, data=data).status_code == 404
        assert client.post(f"/clinic/sessions/{bob_session}/record", data=data).status_code == 404
    assert client.get(f"/clinic/sessions/{bob_session}/record").status_code == 404
    assert len(_ids(in_app, world.patient_a)) == 1


# ------------------------------------------------------------------ any input


_TEXT = st.text(max_size=30) | st.sampled_from(["", "0", "-1", "9" * 400, "٣", "²", "\x00"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=_TEXT, month=_TEXT, year=_TEXT, time=_TEXT)
def test_no_input_to_the_date_boxes_is_a_server_error(
    client, world, in_app, day, month, year, time
):
    login(client, "doc1@north.example")
    when = _when(day, month, year, time)
    (bob_session,) = _ids(in_app, world.patient_b)[:1]
    for url in (
        f"/clinic/patients/{world.patient_a}/sessions",
        f"/clinic/sessions/{bob_session}/reschedule",
        f"/clinic/sessions/{bob_session}/record",
    ):
        r = client.post(url, data={"protocol": "1", "confirm_soon": "y", **when})
        assert r.status_code in (200, 303, 400), (url, when)
