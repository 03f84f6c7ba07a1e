"""What a Spanish patient still met in English, found in review rvi18n (issue 19
point 4): each test fails without its fix."""

from __future__ import annotations

import json

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.services.accounts import passwords
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.web.test_checkin import form
from tests.web.test_checkin_photo import SITE
from tests.web.test_checkin_photo import send
from tests.web.test_signed_out_language import _invite
from tests.web.test_signed_out_language import _language

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


def test_the_password_messages_name_the_real_limits():
    assert str(passwords.MIN_PASSWORD) in passwords.TOO_SHORT
    assert str(passwords.MAX_PASSWORD) in passwords.TOO_LONG


def test_a_spanish_patients_invitation_refuses_a_password_in_spanish(client, world, in_app, clock):
    # The first page a new patient fills in: its refusals were English (the service built
    # them with the limit pasted in, or not marked at all), under a Spanish page.
    _language(in_app, world.patient_a, "es")
    token = _invite(in_app, "alice@patients.example", clock())
    cases = [
        ({"password": "short", "confirm": "short"}, "Use al menos 12 caracteres."),
        ({"password": "x" * 129, "confirm": "x" * 129}, "Use como máximo 128 caracteres."),
        ({"password": "password1234", "confirm": "password1234"}, "muy común"),
        (
            {"password": "alicemarkera2026", "confirm": "alicemarkera2026"},
            "No use su correo electrónico ni su nombre",
        ),
        ({"password": "aaaaaaaaaaaaaaaa1", "confirm": "aaaaaaaaaaaaaaaa1"}, "fácil de adivinar"),
        (
            {"password": "lantern orbit cactus", "confirm": "lantern orbit cactuz"},
            "Las dos contraseñas no coinciden.",
        ),
    ]
    for data, words in cases:
        r = client.post(f"/invite/{token}", data=data, headers={"Accept-Language": "en-GB"})
        page = text_of(r)
        assert r.status_code == 400, data
        assert words in page, (data, page[-600:])
        for english in ("Use at", "Try a few", "passwords are not", "easy to guess"):
            assert english not in page, data


def test_an_english_reader_keeps_the_estimators_reason(client, world, in_app, clock):
    _language(in_app, world.patient_a, "en")
    token = _invite(in_app, "alice@patients.example", clock())
    data = {"password": "aaaaaaaaaaaaaaaa1", "confirm": "aaaaaaaaaaaaaaaa1"}
    page = text_of(client.post(f"/invite/{token}", data=data))
    assert "This password is easy to guess. Try a few unrelated words. Repeats" in page


def test_a_spanish_patients_too_big_checkin_photo_is_explained_in_spanish(
    app, client, world, in_app
):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["SCLERO_CHECKIN_MAX_BODY"] = 4 * 1024 * 1024
    spanish(client, world, in_app)
    big = phone_jpeg((64, 64)) + b"\0" * (2 * 1024 * 1024)
    page = text_of(send(client, big, **SITE))
    assert "Esa foto ocupa más de 1 MB." in page, page[-800:]
    assert "larger than" not in page


def test_equal_quiet_hours_are_refused_in_spanish(client, world, in_app):
    spanish(client, world, in_app)
    r = client.post(
        "/patient/reminders/quiet-hours",
        data={"start": "22:00", "end": "22:00"},
        follow_redirects=True,
    )
    page = text_of(r)
    assert "El inicio y el final son la misma hora." in page
    assert "Start and end" not in page


def test_a_refused_reminder_device_is_explained_in_spanish(client, world, in_app):
    # push.js shows the server's "error" as it comes: it was English.
    spanish(client, world, in_app)
    r = client.post("/patient/reminders/subscribe", json={"subscription": None})
    assert r.status_code == 400
    assert r.get_json()["error"] == (
        "Este navegador no ha enviado los datos de los recordatorios. Inténtelo de nuevo."
    )
    gone = {"endpoint": "https://fcm.googleapis.com/fcm/send/gone", "keys": {}}
    r = client.post("/patient/reminders/subscribe", json={"subscription": gone})
    assert r.status_code == 400 and "no son válidos" in r.get_json()["error"]


def test_a_spanish_clinics_diary_says_each_answer_in_spanish(client, world, in_app):
    # The clinician's diary wrote two unmarked English lines ("Pain 9/10, bruising
    # severe; tender lumps yes ...", "Stockings: day ...") and the stored English
    # reasons as they were, in the page of a clinic whose locale is Spanish.
    def choose():
        db.session.get(Clinic, world.clinic1).locale = "es_ES"
        db.session.commit()

    in_app(choose)
    login(client, "alice@patients.example")
    sent = client.post(
        "/patient/checkin", data=form(pain="9", bruising="severe", lumps="yes", itching="no")
    )
    assert sent.status_code in (200, 303), sent.status_code
    client.post("/logout")
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Dolor 9/10, moratones: intenso; bultitos sensibles: sí; picor: no" in page
    assert "Medias: de día," in page and "piernas en alto:" in page
    assert "Motivos del aviso: Dolor 9 de 10" in page, page[page.find("Motivos") - 50 :][:300]
    for english in ("Stockings: day", "tender lumps", "legs raised", "Flagged: Pain"):
        assert english not in page, english


def test_an_english_clinics_diary_keeps_its_words(client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(pain="2", lumps="yes", itching="no"))
    client.post("/logout")
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Pain 2/10, bruising" in page and "tender lumps yes; itching no" in page
    assert "Stockings: day " in page


def test_the_install_prompts_words_follow_the_reader(client, world, in_app):
    # The manifest's name, description and screenshot labels were English for everyone.
    r = client.get("/manifest.webmanifest", headers={"Accept-Language": "es-ES,es;q=0.9"})
    data = r.get_json()
    assert data["lang"] == "es"
    assert data["description"].startswith("Su lista antes del tratamiento")
    assert data["screenshots"][0]["label"].startswith("Hoy: qué hacer")
    assert {"Accept-Language", "Cookie"} <= set(r.vary)
    english = client.get("/manifest.webmanifest").get_json()
    assert english["lang"] == "en-GB" and english["name"].startswith("ScleroCare: your")
    spanish(client, world, in_app)  # signed in: the patient's own choice
    assert client.get("/manifest.webmanifest").get_json()["lang"] == "es"
