"""Day and night stockings asked as one question (issue 19 point 3).

Alice is on day 3 of the 72 h protocol, which asks about the stockings day and night:
the page asks "Did you wear your stockings?" once, four choices, one tap. Each choice is
stored as the two yes/no answers asked before, so the clinician's diary reads the same
words; no choice stores both as not answered, never "no". A page kept on a phone (or
the offline queue) that sends the two answers on their own is still taken. On a day
only the daytime is asked (24 h protocol), the single yes/no stays.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import CheckIn
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_today_course import add_patient

CHOICES = {
    "both": (True, True, "day yes, night yes"),
    "day": (True, False, "day yes, night no"),
    "night": (False, True, "day no, night yes"),
    "none": (False, False, "day no, night no"),
}


def one_question(**overrides) -> dict[str, str]:
    data = form(**overrides)
    del data["stockings_day"], data["stockings_night"], data["walked"], data["elevated"]
    return data


def stored(in_app) -> dict:
    return in_app(lambda: db.session.scalar(sa.select(CheckIn.answers)))


def diary(app, world) -> str:
    doc = app.test_client()
    login(doc, "doc1@north.example")
    return text_of(doc.get(f"/clinic/patients/{world.patient_a}"))


def test_both_stockings_questions_are_one_with_four_choices(client, world):
    login(client, "alice@patients.example")
    html = client.get("/patient/checkin").get_data(as_text=True)
    values = re.findall(r'name="stockings" value="([^"]+)"', html)
    assert values == ["both", "day", "night", "none"]
    assert 'name="stockings_day"' not in html and 'name="stockings_night"' not in html
    page = text_of(client.get("/patient/checkin"))
    assert (
        "Did you wear your stockings? (optional) Day and night In the day only "
        "At night only Not at all"
    ) in page


@pytest.mark.parametrize("choice", sorted(CHOICES))
def test_each_choice_is_stored_as_the_two_answers_and_read_back(app, client, world, in_app, choice):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=one_question(stockings=choice))
    assert r.status_code == 200
    day, night, words = CHOICES[choice]
    saved = stored(in_app)
    assert (saved["stockings_day"], saved["stockings_night"]) == (day, night)
    assert f"Stockings: {words};" in diary(app, world)
    # The edit form shows the choice made, and only it.
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert re.findall(r'name="stockings" value="(\w+)" checked', html) == [choice]


def test_no_choice_is_not_answered_never_no(app, client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=one_question())
    assert r.status_code == 200
    assert "Not answered: Stockings in the day, Stockings at night." in text_of(r)
    saved = stored(in_app)
    assert (saved["stockings_day"], saved["stockings_night"]) == (None, None)
    assert "Stockings: day not answered, night not answered;" in diary(app, world)
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert (
        'name="stockings" value="both"' in html
        and "checked" not in html.split('name="stockings"')[1].split("</fieldset>")[0]
    )


def test_an_unknown_choice_is_not_answered(client, world, in_app):
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data=one_question(stockings="often")).status_code == 200
    saved = stored(in_app)
    assert (saved["stockings_day"], saved["stockings_night"]) == (None, None)


def test_a_refused_check_in_keeps_the_choice(client, world):
    login(client, "alice@patients.example")
    data = one_question(stockings="night")
    del data["pain"]
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert re.findall(r'name="stockings" value="(\w+)" checked', html) == ["night"]


def test_a_kept_page_sending_the_two_answers_is_still_taken(client, world, in_app):
    login(client, "alice@patients.example")
    data = form(stockings_day="no", stockings_night="yes")
    assert client.post("/patient/checkin", data=data).status_code == 200
    saved = stored(in_app)
    assert (saved["stockings_day"], saved["stockings_night"]) == (False, True)


def test_a_kept_page_with_one_answer_shows_it_in_its_own_question(client, world, in_app):
    """Half an answer cannot be one of the four choices: shown as given, so an edit
    sent back unchanged keeps it."""
    login(client, "alice@patients.example")
    data = form()
    del data["stockings_night"]
    assert client.post("/patient/checkin", data=data).status_code == 200
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert 'name="stockings"' not in html
    assert re.search(r'name="stockings_day" value="yes" checked', html)
    assert 'name="stockings_night" value="yes"' in html


def test_a_day_with_only_the_daytime_question_keeps_its_yes_no(client, world, in_app):
    add_patient(in_app, "dora@patients.example", day=3, key="compression-24h")
    login(client, "dora@patients.example")
    r = client.get("/patient/checkin")
    html = r.get_data(as_text=True)
    assert 'name="stockings_day" value="yes"' in html and 'name="stockings"' not in html
    assert "Did you wear your stockings in the daytime?" in text_of(r)
