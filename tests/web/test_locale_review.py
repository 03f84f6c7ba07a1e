"""Locale review of issue 19 point 4: what a real clinic and patient would meet.

A US clinic's dates read month first everywhere (not only in the domain's wording), and
other checks found by trying the locale work as users would.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.web.test_checkin import form


def _language(patient_id: int, language: str) -> None:
    db.session.get(Patient, patient_id).language = language
    db.session.commit()


def _clinic_locale(in_app, clinic_id: int, locale: str) -> None:
    def run():
        db.session.get(Clinic, clinic_id).locale = locale
        db.session.commit()

    in_app(run)


def test_a_us_clinic_reads_month_first_in_every_date(client, world, in_app):
    # The plan's "treated ..." line goes through the ``local`` filter, whose pattern is
    # written day first; a US clinic chose "Mon Dec 7, 2026" on its settings page.
    _clinic_locale(in_app, world.clinic1, "en_US")
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan"))
    assert re.search(r"treated \w{3} [A-Z][a-z]{2} \d{1,2}, 20\d\d, \d\d:\d\d", text), text
    assert not re.search(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", text)


def test_a_uk_clinic_keeps_day_first(client, world):
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan"))
    assert re.search(r"treated \w{3} \d{1,2} [A-Z][a-z]{2} 20\d\d, \d\d:\d\d", text), text


def _spanish(in_app, patient_id: int) -> None:
    def run():
        db.session.get(Patient, patient_id).language = "es"
        db.session.commit()

    in_app(run)


CHEST_EN = "Chest pain, sudden breathlessness"
CHEST_ES = "Dolor en el pecho, falta de aire repentina"


def test_a_spanish_patient_is_asked_the_warning_signs_in_spanish(client, world, in_app):
    # The questions come from the protocol, whose titles the catalogue translates: a
    # Spanish reader must understand what a warning sign is before answering it.
    _spanish(in_app, world.patient_a)
    login(client, "alice@patients.example")
    page = client.get("/patient/checkin")
    assert CHEST_ES in text_of(page)
    assert CHEST_EN not in text_of(page)
    # The phone's offline triage says the same words ("You told us about: ...").
    html = page.get_data(as_text=True)
    rules = json.loads(re.search(r'id="triage-rules">(.*?)</script>', html, re.S).group(1))
    titles = {flag["key"]: flag["title"] for flag in rules["red_flags"]}
    assert titles["chest-breathing"].startswith(CHEST_ES)
    assert {flag["tier"] for flag in rules["red_flags"]} >= {"emergency", "same_day"}


def test_a_spanish_patients_warning_sign_is_said_in_spanish_but_stored_in_english(
    client, world, in_app
):
    _spanish(in_app, world.patient_a)
    login(client, "alice@patients.example")
    answer = client.post("/patient/checkin", data=form(yes=("chest-breathing",)))
    assert answer.status_code == 200
    text = text_of(answer)
    assert CHEST_ES in text and CHEST_EN not in text
    # The clinic reads the protocol's own words in the alert and the stored check-in.
    reasons = in_app(lambda: db.session.scalar(sa.select(CheckIn.reasons)))
    assert any(r.startswith(CHEST_EN) for r in reasons)
    alert = in_app(lambda: db.session.scalar(sa.select(Alert.reasons)))
    assert any(r.startswith(CHEST_EN) for r in alert)
    # Today and the diary name it in Spanish too.
    assert CHEST_ES in text_of(client.get("/patient/today"))
    assert CHEST_ES in text_of(client.get("/patient/diary"))


def test_the_offline_page_kept_before_sign_in_speaks_spanish_too(app):
    # The service worker precaches /offline when it installs, usually on the sign-in
    # page: a Spanish patient later offline gets that copy, so it must carry Spanish.
    page = app.test_client().get("/offline")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "You are offline" in text_of(page)
    assert '<div lang="es">' in html
    assert "No tiene conexión" in text_of(page)
    assert "En caso de emergencia" in text_of(page)


def test_the_offline_page_of_a_spanish_reader_carries_english(client, world, in_app):
    _spanish(in_app, world.patient_a)
    login(client, "alice@patients.example")
    page = client.get("/offline")
    html = page.get_data(as_text=True)
    assert html.index("No tiene conexión") < html.index('<div lang="en">')
    assert "You are offline" in text_of(page)
    # The request's own language is back after the other was said.
    assert '<html lang="es">' in html
    assert "Recordatorios" in text_of(client.get("/patient/today"))


def test_a_spanish_long_date_joins_day_month_and_year_with_de(app, client, world, in_app):
    # The discharge banner's "until" date is written "%-d %B %Y"; Spanish says
    # "18 de febrero de 2027", never "18 febrero 2027".
    from tests.web.test_clinic_messages import doctor

    _spanish(in_app, world.patient_a)
    doctor(app).post(
        f"/clinic/patients/{world.patient_a}/discharge",
        data={"confirm": "yes", "reason": "Course complete"},
    )
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/today"))
    assert re.search(r"hasta el \d{1,2} de \w+ de 20\d\d", text), text
    assert not re.search(r"\d{1,2} (enero|febrero|marzo|abril|mayo|junio) 20\d\d", text)


def test_an_english_patient_of_a_spanish_clinic_reads_day_first(client, world, in_app):
    # "en" alone is CLDR's US English (month first); in a clinic in Spain an English
    # reader keeps the country's order, in every date of the page.
    _clinic_locale(in_app, world.clinic1, "es_ES")

    def english():
        db.session.get(Patient, world.patient_a).language = "en"
        db.session.commit()

    in_app(english)
    login(client, "alice@patients.example")
    page = client.get("/patient/plan")
    text = text_of(page)
    assert '<html lang="en-ES">' in page.get_data(as_text=True)
    assert "Your recovery plan" in text
    assert re.search(r"treated \w{3} \d{1,2} [A-Z][a-z]{2} 20\d\d, \d\d:\d\d", text), text
    assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}\b", text)


def test_a_spanish_patient_of_a_us_clinic_reads_spanish(client, world, in_app):
    _clinic_locale(in_app, world.clinic1, "en_US")
    _spanish(in_app, world.patient_a)
    login(client, "alice@patients.example")
    page = client.get("/patient/plan")
    text = text_of(page)
    assert '<html lang="es-US">' in page.get_data(as_text=True)
    assert "Su plan de recuperación" in text
    assert re.search(r"tratamiento el (lun|mar|mié|jue|vie|sáb|dom)\.? \d{1,2} \w+\.? 20\d\d", text)


def test_the_link_email_writes_its_date_in_the_language_of_its_sentence(
    app, world, in_app, smtp_server, fake_spanish
):
    # The notice email is in its reader's language (issue 19 point 4): an English
    # reader of a Spanish clinic gets "20 November 2026", never "20 noviembre 2026"
    # inside an English sentence; a reader following the clinic gets both in Spanish.
    from app.clock import advancing
    from app.services.notify import dispatch
    from tests.conftest import NOW
    from tests.fake_catalogue import in_spanish
    from tests.smtp_double import text_of as mail_text
    from tests.web.test_email_pages import NoPush
    from tests.web.test_signin_link_accountability import sign_in_admin

    _clinic_locale(in_app, world.clinic1, "es_ES")
    admin = app.test_client()
    sign_in_admin(admin, in_app, world)
    for language in ("en", ""):
        in_app(_language, world.patient_a, language)
        assert admin.post(f"/clinic/patients/{world.patient_a}/invitation").status_code == 200
        in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    english, spanish = (mail_text(m) for m in smtp_server.to("alice@patients.example"))
    assert "for your ScleroCare account on 20 November 2026." in english, english
    sentence = "Your clinic made a new sign-in link for your %(app)s account on %(on)s."
    said = in_spanish(app, sentence, app="ScleroCare", on="20 de noviembre de 2026")
    assert said in spanish, spanish


def test_an_empty_text_translates_to_nothing_not_the_catalogue_header(app):
    # gettext("") is the catalogue's header; a protocol item with no detail shown with
    # the ``translated`` filter must stay empty on a Spanish page.
    from flask import render_template_string

    from app.i18n import force_locale

    with app.test_request_context("/"), force_locale("es"):
        shown = render_template_string("[{{ ''|translated }}][{{ none|translated }}]", none=None)
        assert shown == "[][]"
        assert render_template_string("{{ 'Photo'|translated }}") == "Foto"
