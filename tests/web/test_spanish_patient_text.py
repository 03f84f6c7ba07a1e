"""What a Spanish patient reads goes through the catalogue (issue 19 point 4).

New text reaches app/translations only at the lead's catch-up, so these use the fake
catalogue of tests/fake_catalogue.py: a message the shipped catalogue lacks comes back
as ``ES[msgid]``. Seeing ``ES[...]`` on the page proves that exact msgid was looked up
in the patient's language; each msgid is also checked to be one pybabel extracts.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.adapters import imaging
from app.domain.checkin import MAX_NOTE
from app.domain.checkin import NOTE_MESSAGE
from app.domain.checkin import OPTIONAL_YES_NO
from app.domain.reasons import BRUISING_REASONS
from app.domain.reasons import PAIN_REASON
from app.extensions import db
from app.models import Alert
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.fake_catalogue import extracted
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.services.test_photos import phone_jpeg
from tests.web.test_checkin import form
from tests.web.test_checkin_photo import SITE
from tests.web.test_checkin_photo import send

# The calf warning sign's title as the shipped Spanish catalogue has it.
CALF_ES = (
    "Dolor, hinchazón, calor o sensibilidad en la pantorrilla o en toda la pierna, "
    "sobre todo en un solo lado"
)


def spanish_alice(client, world, in_app) -> None:
    """Alice reads Spanish, and is signed in."""

    def choose():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(choose)
    login(client, "alice@patients.example")


def test_an_unanswered_warning_sign_is_named_in_spanish(client, world, in_app, fake_spanish):
    spanish_alice(client, world, in_app)
    r = client.post("/patient/checkin", data=form(**{"rf-calf-pain-swelling": ""}))
    assert r.status_code == 400
    page = text_of(r)
    # The sentence is looked up whole, and the sign's title inside it is the protocol's
    # title in Spanish (the shipped catalogue knows it).
    assert fake_spanish("Please answer yes or no: %(title)s") % {"title": CALF_ES} in page
    assert "Please answer yes or no: %(title)s" in extracted()


def test_each_checkin_refusal_is_looked_up_in_spanish(client, world, in_app, fake_spanish):
    spanish_alice(client, world, in_app)
    cases = [
        ({"pain": "12"}, "Choose a pain score from 0 to 10."),
        ({"bruising": "purple"}, "Choose how much bruising you have."),
        ({"rf-allergy": "yes"}, "Answer only the questions shown."),
        ({"skin": ["none", "brown"]}, "Tick 'No skin changes' or the changes you have, not both."),
        ({"skin": ["purple"]}, "Choose skin changes from the list."),
        ({"skin": []}, "Tick the skin changes you have, or tick 'No skin changes'."),
    ]
    for overrides, msgid in cases:
        r = client.post("/patient/checkin", data=form(**overrides))
        assert r.status_code == 400, overrides
        assert msgid in extracted(), msgid
        assert fake_spanish(msgid) in r.get_data(as_text=True).replace("&#39;", "'"), overrides


def test_a_long_note_is_refused_in_spanish(client, world, in_app, fake_spanish):
    assert f"{MAX_NOTE:,}" in NOTE_MESSAGE  # the message names the real limit
    spanish_alice(client, world, in_app)
    r = client.post("/patient/checkin", data=form(pain="12", note="x" * (MAX_NOTE + 1)))
    assert r.status_code == 400 and NOTE_MESSAGE in extracted()
    assert fake_spanish(NOTE_MESSAGE) in text_of(r)


def test_the_reasons_an_answer_gives_are_said_in_spanish(client, world, in_app, fake_spanish):
    # Pain 8 is a same-day answer: the result page, Today and the diary list the reason.
    # It is stored in English for the clinic, and said with its number to the patient.
    spanish_alice(client, world, in_app)
    r = client.post("/patient/checkin", data=form(pain="8", bruising="severe"))
    assert r.status_code == 200
    assert PAIN_REASON in extracted() and BRUISING_REASONS["severe"] in extracted()
    pain = fake_spanish(PAIN_REASON) % {"score": 8}
    for page in (r, client.get("/patient/today"), client.get("/patient/diary")):
        text = text_of(page)
        assert pain in text and "Pain 8 out of 10" not in text.replace(pain, "")
    assert fake_spanish(BRUISING_REASONS["severe"]) in text_of(r)
    stored = in_app(lambda: db.session.scalar(sa.select(Alert)).reasons)
    assert "Pain 8 out of 10" in stored  # the clinic reads what was written


def test_the_questions_left_unanswered_are_named_in_spanish(client, world, in_app, fake_spanish):
    spanish_alice(client, world, in_app)
    r = client.post("/patient/checkin", data=form(lumps="", itching=""))
    assert r.status_code == 200
    for label in (OPTIONAL_YES_NO["lumps"], OPTIONAL_YES_NO["itching"]):
        assert label in extracted()
        assert fake_spanish(label) in text_of(r), label
        assert fake_spanish(label) in text_of(client.get("/patient/diary")), label


def test_a_refused_photo_is_explained_in_spanish(client, world, in_app, fake_spanish):
    # With the check-in (kept without the photo) and on the photo diary's upload page.
    spanish_alice(client, world, in_app)
    broken = b"\xff\xd8\xff\xe0 this is not really a photo"
    why = {imaging.NOT_A_PHOTO, imaging.DAMAGED}
    assert why <= extracted()
    r = send(client, broken, **SITE)
    assert r.status_code == 200
    assert any(fake_spanish(m) in text_of(r) for m in why), text_of(r)
    r = send(client, broken, path="/patient/photos", **SITE)
    assert r.status_code == 400
    assert any(fake_spanish(m) in text_of(r) for m in why), text_of(r)
    note = {**SITE, "note": "x" * 600}
    r = send(client, phone_jpeg(), path="/patient/photos", **note)
    msgid = "Please keep the note under %(n)s characters."
    assert r.status_code == 400 and msgid in extracted()
    assert fake_spanish(msgid) % {"n": 500} in text_of(r)
