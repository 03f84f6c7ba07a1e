"""A patient whose time zone is not the clinic's may be abroad, where the clinic's
emergency number (999) does not answer. Every "Call 999" they see (the check-in's
emergency answer, the urgent advice on Today, the help box on every page) also names
the local numbers: 112 in Europe and from most mobile phones, 911 in the US and Canada
(adversarial review, 2026-12-07: a patient in New York was told only "Call 999 now").
A patient in the clinic's own zone sees no such line.
"""

from __future__ import annotations

from app.extensions import db
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form

AWAY = "may not work where you are: call the local emergency number instead"


def _move(in_app, patient_id: int, zone: str) -> None:
    def move():
        db.session.get(Patient, patient_id).timezone = zone
        db.session.commit()

    in_app(move)


def test_a_patient_in_another_zone_is_told_the_local_numbers(client, world, in_app):
    _move(in_app, world.patient_a, "America/New_York")
    login(client, "alice@patients.example")
    today = text_of(client.get("/patient/today"))
    assert AWAY in today and "911 in the US and Canada" in today
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    page = text_of(r)
    assert page.startswith("Call 999 now")  # the clinic's number still comes first
    assert AWAY in page and "112 in Europe" in page
    # The advice stays on Today until the clinic has seen it, with the same line.
    assert text_of(client.get("/patient/today")).count(AWAY) >= 2
    assert AWAY in text_of(client.get("/patient/checkin"))


def test_a_patient_in_the_clinics_zone_sees_no_such_line(client, world, in_app):
    login(client, "alice@patients.example")
    assert AWAY not in text_of(client.get("/patient/today"))
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    assert AWAY not in text_of(r)


def test_the_shared_help_box_is_kept_apart_for_the_two(client, world, in_app):
    """The help box is one cached rendering per clinic: a patient abroad must not get
    the box rendered for one at home, nor the other way round."""
    login(client, "alice@patients.example")
    assert AWAY not in text_of(client.get("/patient/today"))
    _move(in_app, world.patient_a, "Asia/Tokyo")
    assert AWAY in text_of(client.get("/patient/today"))
    _move(in_app, world.patient_a, "Europe/London")
    assert AWAY not in text_of(client.get("/patient/today"))


def test_the_discharged_page_names_the_local_numbers_too(client, world, in_app):
    """The page a discharged patient meets on a write (and at the end of the read
    period) has its own "Call 999" button: it gets the line as well."""
    from tests.web.test_discharge import DOC1
    from tests.web.test_discharge import _discharge

    clinician = client.application.test_client()
    login(clinician, DOC1)
    _discharge(clinician, world.patient_a)
    _move(in_app, world.patient_a, "America/New_York")
    login(client, "alice@patients.example")
    r = client.get("/patient/checkin")
    assert r.status_code == 403 and AWAY in text_of(r)
    _move(in_app, world.patient_a, "Europe/London")
    assert AWAY not in text_of(client.get("/patient/checkin"))


SAME_DAY_AWAY = "NHS 111 may not answer calls from abroad"


def test_same_day_advice_abroad_does_not_rest_on_the_national_line(client, world, in_app):
    """Same-day advice points a patient at the clinic's out-of-hours line (NHS 111),
    which does not answer calls from abroad: a patient in another zone is also told to
    see a local doctor or urgent care service today, on the answer page, on Today's
    advice that stays, in the help box and on the offline same-day screen."""
    _move(in_app, world.patient_a, "America/New_York")
    login(client, "alice@patients.example")
    assert SAME_DAY_AWAY in text_of(client.get("/patient/today"))  # the help box
    assert SAME_DAY_AWAY in client.get("/patient/checkin").get_data(as_text=True)  # offline
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(r)
    assert "calf" in page.lower() and SAME_DAY_AWAY in page
    assert "see a local doctor, pharmacist or urgent care service today" in page
    assert text_of(client.get("/patient/today")).count(SAME_DAY_AWAY) >= 2  # advice + box


def test_same_day_advice_at_home_names_only_the_clinics_lines(client, world, in_app):
    login(client, "alice@patients.example")
    assert SAME_DAY_AWAY not in client.get("/patient/checkin").get_data(as_text=True)
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert "NHS 111" in text_of(r) and SAME_DAY_AWAY not in text_of(r)
    assert SAME_DAY_AWAY not in text_of(client.get("/patient/today"))
