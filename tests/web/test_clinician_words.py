"""Clinician pages' words go through the catalogue too (issue 19 point 4, lowest
priority): a clinic whose locale is Spanish reads them from the Spanish catalogue.
New messages come back as ``ES[...]`` until the lead's catch-up
(tests/fake_catalogue.py)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale

from app.extensions import db
from app.i18n import format_day
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.fake_catalogue import extracted
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.fake_catalogue import in_spanish
from tests.web.test_checkin import form
from tests.web.test_signin_link_accountability import sign_in_admin


def _spanish_clinic(in_app, clinic_id: int) -> None:
    def choose():
        db.session.get(Clinic, clinic_id).locale = "es_ES"
        db.session.commit()

    in_app(choose)


def test_the_patient_page_sections_are_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    for msgid in (
        "Checklist for the next session",
        "Comments to the patient",
        "New comment (the patient sees it in their diary)",
        "Add comment",
    ):
        assert msgid in extracted() and in_spanish(app, msgid) in page, msgid
        assert in_spanish(app, msgid) != msgid


def test_the_photo_comparison_page_is_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    login(client, "doc1@north.example")
    r = client.get(f"/clinic/patients/{world.patient_a}/photos/compare")
    assert r.status_code == 200
    name = in_app(lambda: db.session.get(Patient, world.patient_a).user.name)
    msgid = "Compare photos: %(name)s"
    assert msgid in extracted()
    assert in_spanish(app, msgid, name=name) in text_of(r)


def test_the_shared_link_box_is_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    sign_in_admin(client, in_app, world)
    r = client.post(f"/clinic/patients/{world.patient_a}/invitation", follow_redirects=True)
    assert r.status_code == 200
    name = in_app(lambda: db.session.get(Patient, world.patient_a).user.name)
    caption = "Or let %(name)s scan this code with their phone's camera."
    for msgid, said in (
        ("Copy link", in_spanish(app, "Copy link")),
        ("Invitation link", in_spanish(app, "Invitation link")),
        (caption, in_spanish(app, caption, name=name)),
    ):
        assert msgid in extracted() and said in text_of(r), msgid


def test_discharge_and_photo_pages_are_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    login(client, "doc1@north.example")
    name = in_app(lambda: db.session.get(Patient, world.patient_a).user.name)
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}/discharge"))
    assert in_spanish(app, "Discharge %(name)s?", name=name) in page
    assert in_spanish(app, "You can re-open the patient later if needed.") in page
    photos = text_of(client.get(f"/clinic/patients/{world.patient_a}/photos"))
    assert in_spanish(app, "Photos of %(name)s", name=name) in photos
    edit = text_of(client.get(f"/clinic/patients/{world.patient_a}/edit"))
    assert in_spanish(app, "Save details") in edit
    for msgid in ("Discharge %(name)s?", "Photos of %(name)s", "Save details"):
        assert msgid in extracted()


def test_the_lists_and_alerts_are_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    login(client, "doc1@north.example")
    listing = text_of(client.get("/clinic/patients"))
    assert in_spanish(app, "Search by name or email") in listing
    assert in_spanish(app, "Next appointment") in listing
    phone = text_of(client.get("/clinic/reminders"))
    assert in_spanish(app, "Devices with alerts") in phone
    for msgid in ("Search by name or email", "Devices with alerts", "Open alerts"):
        assert msgid in extracted()


def test_the_chart_is_looked_up(app, client, world, in_app, fake_spanish):
    # A check-in draws the chart on the clinician's patient page.
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data=form()).status_code == 200
    _spanish_clinic(in_app, world.clinic1)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    for msgid in ("Pain and bruising by day", "Show the numbers as a table"):
        assert msgid in extracted() and in_spanish(app, msgid) in html, msgid


def test_the_reminder_delivery_section_is_looked_up(app, client, world, in_app, fake_spanish):
    _spanish_clinic(in_app, world.clinic1)
    login(client, "doc1@north.example")
    page = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    off = (
        "<strong>Off</strong>: the patient has not turned on reminders on any device. "
        "They still see everything on their Today page."
    )
    assert off in extracted() and in_spanish(app, off) in page


def test_the_diary_writes_its_days_in_the_clinics_locale(app, client, world, in_app, fake_spanish):
    # A day was written with strftime, in English whatever the locale (issue 19 point 4:
    # one date formatter); now through date_as, and the words through the catalogue.
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data=form()).status_code == 200
    _spanish_clinic(in_app, world.clinic1)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    page = text_of(doc.get(f"/clinic/patients/{world.patient_a}"))
    on = in_app(lambda: db.session.scalar(sa.select(CheckIn.on_date)))
    with app.test_request_context(), force_locale("es_ES"):
        spanish_day = format_day(on, "short_year")
    assert spanish_day in page and on.strftime("%a %-d %b %Y") not in page
    for msgid in ("Mark day reviewed", "Diary"):
        assert msgid in extracted() and in_spanish(app, msgid) in page, msgid
