"""Locale, dates and translation (issue 19 point 4).

Dates follow the clinic's locale and the patient's zone, never the browser's
Accept-Language; a patient who chooses Spanish reads Spanish pages and dates; the
language is chosen on Reminders or by a clinician on Edit details (audited).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Patient
from tests.conftest import login
from tests.conftest import scalar
from tests.conftest import text_of

US_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}
SPANISH_BROWSER = {"Accept-Language": "es-ES,es;q=0.9"}


def _csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return found.group(1) if found else ""  # the tests' config turns CSRF off


def _set_language(in_app, patient_id: int, language: str) -> None:
    def run():
        db.session.get(Patient, patient_id).language = language
        db.session.commit()

    in_app(run)


def test_us_browser_still_gets_british_dates_for_a_uk_clinic(client, world):
    # Alice was treated 3 days before NOW (7 Dec 2026 in conftest): "Fri 4 Dec 2026".
    login(client, "alice@patients.example")
    page = client.get("/patient/plan", headers=US_BROWSER)
    assert page.status_code == 200
    text = text_of(page)
    assert re.search(r"treated \w{3} \d{1,2} \w{3} 20\d\d, \d\d:\d\d", text), text
    assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2},", text)
    html = page.get_data(as_text=True)
    assert '<html lang="en-GB">' in html


def test_a_spanish_patient_reads_spanish_pages_and_dates(client, world, in_app):
    _set_language(in_app, world.patient_a, "es")
    login(client, "alice@patients.example")
    page = client.get("/patient/plan", headers=US_BROWSER)
    html = page.get_data(as_text=True)
    text = text_of(page)
    assert '<html lang="es">' in html
    assert "Su plan de recuperación" in text
    assert "Your recovery plan" not in text
    # Babel's Spanish day and month names, in the patient's zone.
    assert re.search(r"tratamiento el (lun|mar|mié|jue|vie|sáb|dom)\.? \d{1,2} \w+\.? 20\d\d", text)
    assert "Hoy" in text and "Recordatorios" in text  # the tab bar, cached per language


def test_spanish_browser_does_not_make_an_english_patient_spanish(client, world):
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan", headers=SPANISH_BROWSER))
    assert "Your recovery plan" in text


def test_the_tab_bar_cache_keeps_languages_apart(client, world, in_app, app):
    # Bob reads English, then Alice (Spanish) must not get Bob's cached tabs, nor Bob hers.
    _set_language(in_app, world.patient_a, "es")
    other = app.test_client()
    login(other, "bob@patients.example")
    assert "Reminders" in text_of(other.get("/patient/plan"))
    login(client, "alice@patients.example")
    assert "Recordatorios" in text_of(client.get("/patient/plan"))
    assert "Reminders" in text_of(other.get("/patient/plan"))


def test_the_clinic_locale_sets_dates_for_patients_who_chose_nothing(client, world, in_app):
    def spanish_clinic():
        db.session.get(Clinic, world.clinic1).locale = "es_ES"
        db.session.commit()

    in_app(spanish_clinic)
    login(client, "alice@patients.example")
    page = client.get("/patient/plan")
    assert '<html lang="es-ES">' in page.get_data(as_text=True)
    assert "Su plan de recuperación" in text_of(page)


def test_patient_chooses_spanish_on_reminders(client, world, in_app):
    login(client, "alice@patients.example")
    page = client.get("/patient/reminders")
    assert "Your account" in text_of(page)
    assert 'value="es"' in page.get_data(as_text=True)
    token = _csrf(client, "/patient/reminders")
    done = client.post("/patient/reminders/language", data={"csrf_token": token, "language": "es"})
    assert done.status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).language) == "es"
    after = client.get("/patient/reminders")
    assert "Idioma guardado." in text_of(after)  # said in the language just chosen
    assert '<html lang="es">' in after.get_data(as_text=True)


def test_choosing_a_language_needs_the_csrf_token(app, client, world, in_app):
    app.config["WTF_CSRF_ENABLED"] = True
    login(client, "alice@patients.example")
    refused = client.post("/patient/reminders/language", data={"language": "es"})
    assert refused.status_code == 400
    assert in_app(lambda: db.session.get(Patient, world.patient_a).language) == ""


def test_an_unknown_language_is_refused_with_a_message(client, world, in_app):
    login(client, "alice@patients.example")
    token = _csrf(client, "/patient/reminders")
    answer = client.post(
        "/patient/reminders/language",
        data={"csrf_token": token, "language": "xx"},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "Choose a language." in text_of(answer)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).language) == ""


def test_clinician_sets_the_patients_language_audited(client, world, in_app):
    login(client, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/edit"
    form = client.get(url)
    assert form.status_code == 200
    assert 'name="language"' in form.get_data(as_text=True)
    token = _csrf(client, url)
    saved = client.post(
        url,
        data={
            "csrf_token": token,
            "name": "Alice Marker-A",
            "email": "alice@patients.example",
            "phone": "",
            "timezone": "Europe/London",
            "language": "es",
        },
    )
    assert saved.status_code == 303, text_of(saved)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).language) == "es"
    details = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.patient_id == world.patient_a)
        ).all()
    )
    assert any(d.startswith("language:") and "es" in d for d in details), details


def test_clinician_edit_without_the_language_field_leaves_it(client, world, in_app):
    _set_language(in_app, world.patient_a, "es")
    login(client, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/edit"
    token = _csrf(client, url)
    saved = client.post(
        url,
        data={
            "csrf_token": token,
            "name": "Alice Renamed",
            "email": "alice@patients.example",
            "phone": "",
            "timezone": "Europe/London",
        },
    )
    assert saved.status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).language) == "es"


def test_clinician_cannot_set_an_unknown_language(client, world, in_app):
    login(client, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/edit"
    token = _csrf(client, url)
    refused = client.post(
        url,
        data={
            "csrf_token": token,
            "name": "Alice Marker-A",
            "email": "alice@patients.example",
            "phone": "",
            "timezone": "Europe/London",
            "language": "klingon",
        },
    )
    assert refused.status_code == 400
    assert "Choose one of the languages listed." in text_of(refused)


def test_another_clinics_clinician_gets_404_for_the_language_edit(client, world):
    login(client, "doc2@south.example")
    url = f"/clinic/patients/{world.patient_a}/edit"
    assert client.get(url).status_code == 404


def test_spanish_error_page(client, world, in_app):
    _set_language(in_app, world.patient_a, "es")
    login(client, "alice@patients.example")
    missing = client.get("/patient/no-such-page")
    assert missing.status_code == 404
    assert "Página no encontrada" in text_of(missing)


def test_clinic_admin_sets_the_clinic_locale_audited(app, world, in_app):
    from app.models import Role
    from tests.conftest import make_staff
    from tests.web.test_clinic_settings import settings_form

    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic1), "boss@north.example", Role.CLINIC_ADMIN
        )
    )
    admin = app.test_client()
    login(admin, "boss@north.example")
    page = admin.get("/clinic/settings")
    assert 'name="locale"' in page.get_data(as_text=True)
    assert admin.post("/clinic/settings", data=settings_form(locale="es_ES")).status_code == 303
    assert (
        in_app(lambda: scalar(sa.select(Clinic.locale).where(Clinic.id == world.clinic1)))
        == "es_ES"
    )
    details = in_app(lambda: db.session.scalars(sa.select(AuditEvent.detail)).all())
    assert any("language and date style: en_GB -> es_ES" in d for d in details), details
    refused = admin.post("/clinic/settings", data=settings_form(locale="fr_XX"))
    assert refused.status_code == 400
    assert "Choose one of the listed languages and date styles." in text_of(refused)


def test_shipped_protocol_texts_reach_a_spanish_patient_in_spanish(client, world, in_app):
    _set_language(in_app, world.patient_a, "es")
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan"))
    assert "Lleve las medias de día y de noche" in text
    assert "Wear your stockings day and night" not in text
    assert "Último día para evitar: " in text
    # A milestone reached earlier drops "from now" in Spanish too (phrases.milestone_heading).
    assert "Puede quitarse las medias por la noche" in text
    assert "por la noche desde ahora" not in text.split("Semana 2")[-1]


def test_protocol_text_the_catalogue_does_not_know_stays_as_written(app):
    from dataclasses import replace

    from app.domain.protocol import parse_protocol
    from app.i18n import force_locale
    from app.services.care.protocol_text import for_reader
    from app.services.protocols import shipped_files

    with open(shipped_files(app.config["SCLERO_PROTOCOL_DIR"])[0]) as f:
        shipped = parse_protocol(f.read(), "shipped")
    own = replace(shipped.milestones[0], title="Our own clinic's words")
    protocol = replace(shipped, milestones=(own, *shipped.milestones[1:]))
    with app.test_request_context("/"), force_locale("es"):
        translated = for_reader(protocol)
    assert translated.milestones[0].title == "Our own clinic's words"
    assert translated.tasks[0].title != protocol.tasks[0].title  # shipped: translated
    with app.test_request_context("/"):
        assert for_reader(protocol) is protocol  # English readers get it as written


def test_offline_banner_words_and_date_come_from_the_server(client, world, in_app):
    # app.js used the phone's locale (US dates on a US phone); the page now carries them.
    login(client, "alice@patients.example")
    html = client.get("/patient/plan", headers=US_BROWSER).get_data(as_text=True)
    made = re.search(r'<meta name="sc-offline-copy" content="([^"]+)"', html).group(1)
    assert re.fullmatch(r"Offline copy, last updated \w{3} \d{1,2} \w{3,4}, \d\d:\d\d\.", made)
    _set_language(in_app, world.patient_a, "es")
    html = client.get("/patient/plan").get_data(as_text=True)
    made = re.search(r'<meta name="sc-offline-copy" content="([^"]+)"', html).group(1)
    assert made.startswith("Copia sin conexión, actualizada el ")


def test_domain_wording_is_cached_per_language(app):
    from datetime import UTC
    from datetime import date
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app.domain import wording
    from app.i18n import force_locale

    london = ZoneInfo("Europe/London")
    end = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    today = date(2026, 12, 7)
    with app.test_request_context("/"):
        assert wording.ending_on(end, False, london, today) == "until midnight tonight"
        with force_locale("es"):
            assert wording.ending_on(end, False, london, today) == "hasta la medianoche de hoy"
            assert wording.day_label(date(2026, 12, 12), today) == "sáb 12 dic"
        assert wording.ending_on(end, False, london, today) == "until midnight tonight"
        assert wording.day_label(date(2026, 12, 12), today) == "Sat 12 Dec"
    # Outside the app (pure unit tests), the English as written.
    assert wording.day_phrase(3) == "Day 3 after your treatment"
