"""What a Spanish patient still met in English, found in review rvi18n (issue 19
point 4): each test fails without its fix."""

from __future__ import annotations

import json

from app.extensions import db
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of

SW_BODY_EN = "You have a new reminder. Open ScleroCare to see it."
SW_BODY_ES = "Tiene un recordatorio nuevo. Abra ScleroCare para verlo."


def test_the_workers_fallback_push_text_is_said_in_each_language(client):
    # A push the worker cannot read still shows a notification (else the browser drops
    # the subscription). Its words were English only, on a Spanish patient's lock screen.
    sw = client.get("/sw.js").get_data(as_text=True)
    line = next(li for li in sw.splitlines() if li.startswith("const FALLBACK_BODY"))
    body = json.loads(line.split("=", 1)[1].strip().rstrip(";"))
    assert body == f"{SW_BODY_EN} / {SW_BODY_ES}"


def spanish(client, world, in_app) -> None:
    """Alice reads Spanish, and is signed in."""

    def choose():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(choose)
    login(client, "alice@patients.example")


def test_a_photos_missing_site_is_asked_for_in_spanish(client, world, in_app):
    # The domain built "Please choose " + an English phrase, which no catalogue knew.
    spanish(client, world, in_app)
    cases = [
        ({"side": "middle", "region": "calf", "view": "inner"}, "Elija izquierda o derecha."),
        ({"side": "left", "region": "neck", "view": "inner"}, "Elija la parte de la pierna."),
        ({"side": "left", "region": "calf", "view": "up"}, "Elija la vista: por delante"),
    ]
    for data, words in cases:
        r = client.post("/patient/photos", data=data, content_type="multipart/form-data")
        assert r.status_code == 400, data
        page = text_of(r)
        assert words in page, data
        assert "Please choose" not in page


def test_an_english_patients_missing_site_stays_english(client, world):
    login(client, "alice@patients.example")
    r = client.post("/patient/photos", data={"side": "left", "region": "neck", "view": "inner"})
    assert r.status_code == 400
    assert "Please choose the part of the leg." in text_of(r)
