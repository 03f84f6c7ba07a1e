"""The check-in page asks only what the day needs, once (issue 19 point 3).

Alice is on day 3 of the 72 h protocol. The page asks the warning signs no fixed question
covers, each as a yes/no; skin breakdown is asked by the skin list and the routine
changes by skin, lumps, itching and bruising, so neither is asked again. Its length is
stated as counted. A "yes" to a covered sign sent from a page kept on a phone before
the change still reaches the clinic at its tier.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import DAY3_FLAGS
from tests.web.test_checkin import form
from tests.web.test_today_course import add_patient


def radio_groups(html: str) -> list[str]:
    """The names of the radio groups on the page, in order, each once."""
    names = re.findall(r'<input type="radio"[^>]* name="([^"]+)"', html)
    return list(dict.fromkeys(names))


def test_day_three_asks_each_warning_sign_once_and_says_how_many(client, world):
    login(client, "alice@patients.example")
    r = client.get("/patient/checkin")
    html, page = r.get_data(as_text=True), text_of(r)
    groups = radio_groups(html)
    assert [g for g in groups if g.startswith("rf-")] == [f"rf-{k}" for k in DAY3_FLAGS]
    assert "rf-skin-breakdown" not in groups and "rf-routine-changes" not in groups
    # The skin list still asks for a blister or an open sore, as checkboxes.
    assert 'name="skin" value="blister"' in html and 'name="skin" value="sore"' in html
    # Walks and legs raised are tasks ticked on Today: not asked again.
    assert "elevated" not in groups and "walked" not in groups
    # Stockings in the day and at night: one question, one tap (issue 19 point 3).
    others = ["pain", "bruising", "lumps", "itching", "stockings"]
    assert [g for g in groups if not g.startswith("rf-")] == others
    # Counted, not guessed: 4 warning signs, pain, bruising, skin, lumps, itching and
    # the stockings.
    assert "There are 10 questions today." in page
    assert "about a minute" not in page
    # Today promises what the tap count measures (tests/browser/test_checkin_taps_browser).
    today = text_of(client.get("/patient/today"))
    assert "about a minute" not in today
    assert "one page of questions, most answered with one tap" in today
    # The stocking that rubs (a routine change, ref 2.6) is a tick in the skin list
    # while stockings are worn: no question of its own, no extra tap.
    assert 'name="skin" value="stocking-rubs"' in html
    assert "A stocking that rubs or marks your skin" in page


def test_a_protocol_without_stockings_has_no_stocking_tick(client, world, in_app):
    add_patient(in_app, "nora@patients.example", day=3, key="compression-none")
    login(client, "nora@patients.example")
    page = text_of(client.get("/patient/checkin"))
    assert "There are 9 questions today." in page  # 4 signs, 5 fixed: no stockings
    assert "stocking that rubs" not in page
    assert "Anything else you want the clinic to know? (optional)" in page


def test_a_stocking_that_rubs_is_sent_to_the_clinic_as_a_routine_change(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(skin="stocking-rubs"))
    page = text_of(r)
    assert r.status_code == 200
    assert "You told us about: A stocking that rubs or marks your skin." in page
    saved = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert (saved.level, saved.reasons) == ("routine", ["A stocking that rubs or marks your skin"])
    assert saved.answers["skin"] == ["stocking-rubs"]
    assert in_app(count, Alert) == 0  # routine: reviewed, no alert


def test_answering_only_what_is_shown_is_accepted_and_stored_as_asked(client, world, in_app):
    login(client, "alice@patients.example")
    data = form()
    del data["elevated"], data["walked"]
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 200 and "Everything you told us sounds as expected" in text_of(r)
    saved = in_app(lambda: db.session.scalar(sa.select(CheckIn.answers)))
    assert saved["red_flags"] == [] and saved["red_flags_no"] == sorted(DAY3_FLAGS)
    for name in ("walked", "elevated"):
        assert saved[name] is None and name in saved["not_asked"], name
    assert saved["stockings_day"] is True


def test_a_covered_sign_sent_from_a_kept_page_still_alerts_the_clinic(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form() | {"rf-skin-breakdown": "yes"})
    page = text_of(r)
    assert r.status_code == 200 and "Please call the clinic today" in page
    assert "A blister, open sore, or skin turning white, grey or black" in page
    assert in_app(count, Alert) == 1


def test_a_ticked_skin_breakdown_is_same_day_without_the_repeated_question(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(skin="sore"))
    assert "Please call the clinic today" in text_of(r) and "An open sore" in text_of(r)
    assert in_app(count, Alert) == 1


def test_a_yes_to_a_sign_outside_its_window_is_still_refused(client, world):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form() | {"rf-allergy": "yes"})
    assert r.status_code == 400 and "Answer only the questions shown." in text_of(r)


def test_a_skin_list_left_blank_is_no_answer_and_nothing_is_stored(client, world, in_app):
    # The skin list asks the same-day skin-breakdown sign: left all unticked it is not
    # a "no" (control C2). The page names the problem; nothing is stored until it is
    # answered, and "No skin changes" is that answer.
    login(client, "alice@patients.example")
    page = client.get("/patient/checkin").get_data(as_text=True)
    assert 'id="skin-none" name="skin" value="none"' in page
    r = client.post("/patient/checkin", data=form(skin=[]))
    assert r.status_code == 400
    assert "Tick the skin changes you have, or tick 'No skin changes'." in text_of(r)
    assert '<a href="#skin">' in r.get_data(as_text=True)
    assert in_app(lambda: count(CheckIn)) == 0
    r = client.post("/patient/checkin", data=form(skin=["none", "sore"]))
    assert r.status_code == 400
    assert "Tick 'No skin changes' or the changes you have, not both." in text_of(r)
    r = client.post("/patient/checkin", data=form(skin="none"))
    assert r.status_code == 200 and "Everything you told us sounds as expected" in text_of(r)
    stored = in_app(lambda: db.session.scalar(sa.select(CheckIn)).answers)
    assert stored["skin"] == [] and stored["skin_none"] is True
    # The edit form shows exactly what was chosen: "No skin changes" ticked.
    again = client.get("/patient/checkin").get_data(as_text=True)
    assert 'value="none" data-exclusive checked' in again
