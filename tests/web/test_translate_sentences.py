"""Whole sentences reach the translator (issue 19 point 4; CONTRIBUTING.md, "Translations").

A sentence built from fragments (" and " between "a day" and "a month", text on each side
of a link or an icon) cannot be put in Spanish word order, and an f-string is skipped by
the extractor: these check that such sentences now come out whole, in Spanish.
"""

from __future__ import annotations

from flask_babel import force_locale

from app.dateinput import read_date
from app.extensions import db
from app.models import Patient
from tests.conftest import login


def _in_spanish(app, call):
    with app.test_request_context(), force_locale("es"):
        return call()


def test_a_missing_day_and_month_is_one_spanish_sentence(app):
    _date, boxes, message = _in_spanish(app, lambda: read_date("", "", "2027"))
    assert message == "La fecha debe incluir un día y un mes."
    assert set(boxes) == {"day", "month"}
    with app.test_request_context():
        assert read_date("17", "", "")[2] == "The date must include a month and a year."


def test_an_impossible_day_names_the_month_in_the_readers_language(app):
    _date, _boxes, message = _in_spanish(app, lambda: read_date("30", "2", "2027"))
    assert message == "Escriba una fecha que exista: febrero de 2027 tiene 28 días."
    with app.test_request_context():
        english = read_date("30", "2", "2027")[2]
    assert english == "Enter a real date: February 2027 has 28 days."


def test_the_home_screen_steps_are_whole_spanish_sentences(client, world, in_app):
    def spanish():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(spanish)
    login(client, "alice@patients.example")
    html = client.get("/patient/reminders").get_data(as_text=True)
    assert "Toque Compartir <svg" in html
    assert "</svg>, abajo (o arriba) en Safari." in html
    assert "Baje y toque <strong>Añadir a pantalla de inicio</strong> <svg" in html
    assert "</svg> y luego <strong>Añadir</strong>." in html


def test_the_warning_sign_questions_are_in_spanish(client, world, in_app):
    # The shipped protocols' red-flag titles are in the catalogue (app/i18n_extract.py).
    def spanish():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(spanish)
    login(client, "alice@patients.example")
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert "<legend>Chest pain" not in html
    assert "<legend>Dolor en el pecho, falta de aire repentina" in html
