"""Clinician flows: create a patient and invitation, book, move, cancel, record."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from tests.conftest import login
from tests.conftest import text_of
from tests.conftest import version_id


def _new_patient(client, in_app, world, **overrides):
    from app.models import Clinic

    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    data = {
        "name": "Dana New",
        "email": "dana@patients.example",
        "timezone": "Europe/London",
        "date": "2026-11-27",
        "time": "14:30",
        "protocol": str(vid),
    }
    data.update(overrides)
    return client.post("/clinic/patients/new", data=data, follow_redirects=True)


def test_create_patient_shows_a_single_use_link_that_the_patient_can_open(
    app, client, world, in_app
):
    login(client, "doc1@north.example")
    r = _new_patient(client, in_app, world)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    link = re.search(r">(http://localhost/invite/[^<]+)</textarea>", page).group(1)
    assert "It works once, for 7 days" in text_of(r)
    # Shown once only: a reload no longer shows it.
    patient_id = in_app(
        lambda: db.session.scalar(sa.select(Patient.id).join(User).where(User.name == "Dana New"))
    )
    assert "/invite/" not in client.get(f"/clinic/patients/{patient_id}").get_data(as_text=True)
    patient = app.test_client()
    pw = "my own long password"
    r = patient.post(link.replace("http://localhost", ""), data={"password": pw, "confirm": pw})
    assert r.headers["Location"] == "/patient/today"
    today = text_of(patient.get("/patient/today"))
    assert "Your treatment is Fri 27 Nov 14:30" in today


def test_appointment_is_stored_in_utc_from_the_patients_zone(client, world, in_app):
    login(client, "doc1@north.example")
    _new_patient(client, in_app, world, timezone="Pacific/Kiritimati", email="k@patients.example")
    at = in_app(
        lambda: db.session.scalar(sa.select(Treatment.appointment_at).order_by(Treatment.id.desc()))
    )
    # 14:30 at UTC+14 is 00:30 UTC the same day.
    assert at.isoformat() == "2026-11-27T00:30:00+00:00"


def test_bad_input_is_named_and_nothing_is_created(client, world, in_app):
    login(client, "doc1@north.example")
    cases = [
        ({"timezone": "Mars/Olympus"}, "Choose a time zone from the list"),
        ({"date": "2020-01-01"}, "That date is in the past."),
        ({"date": "2031-01-01"}, "That date is more than 2 years ahead."),
        ({"date": "not a date"}, "Enter a real date, for example 17 3 2027."),
        ({"email": "alice@patients.example"}, "already an account with this email"),
        ({"email": "not-an-email"}, "Enter an email address like name@example.com"),
        ({"protocol": "999999"}, "Choose one of your clinic's protocols"),
    ]
    before = in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(User)))
    for overrides, message in cases:
        r = _new_patient(client, in_app, world, **overrides)
        assert r.status_code == 400, overrides
        assert message in text_of(r), (overrides, text_of(r)[:400])
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(User))) == before


def test_a_time_skipped_by_the_clocks_is_refused(client, world, in_app):
    login(client, "doc1@north.example")
    r = _new_patient(client, in_app, world, date="2027-03-28", time="01:30")
    assert r.status_code == 400
    assert "01:30 does not exist on that day in Europe/London" in text_of(r)


def test_double_submitted_new_patient_creates_one_patient(client, world, in_app):
    login(client, "doc1@north.example")
    _new_patient(client, in_app, world)
    r = _new_patient(client, in_app, world)
    assert r.status_code == 400 and "already an account" in text_of(r)
    n = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.name == "Dana New")
        )
    )
    assert n == 1


def _bob_treatment(in_app, world):
    return in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )


def test_reschedule_moves_the_checklist(app, client, world, in_app):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    r = client.post(
        f"/clinic/sessions/{tid}/reschedule", data={"date": "2026-11-25", "time": "09:00"}
    )
    assert r.status_code == 303
    bob = app.test_client()
    login(bob, "bob@patients.example")
    page = text_of(bob.get("/patient/checklist"))
    assert "Your appointment: Wed 25 Nov 09:00" in page
    assert "From Tue 24 Nov 09:00" in page  # no lotions from 24 h before


def test_cancel_then_today_says_nothing_is_booked(app, client, world, in_app):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    client.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"})
    client.post(
        f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}
    )  # twice: still cancelled, no error
    status = in_app(lambda: db.session.get(Treatment, tid).status)
    assert status == TreatmentStatus.CANCELLED
    bob = app.test_client()
    login(bob, "bob@patients.example")
    assert "has not booked a treatment" in text_of(bob.get("/patient/today"))
    assert "no appointment booked" in text_of(bob.get("/patient/checklist"))


def test_record_treatment_starts_day_zero(app, client, world, in_app, clock):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    data = {
        "date": "2026-11-20",
        "time": "11:15",
        "sclerosant": "Polidocanol",
        "form": "foam",
        "concentration": "0.5%",
        "areas": "right calf",
        "compression": "class 2",
        "checks_done": "y",  # the 72 h protocol's duplex scan and consultation
    }
    r = client.post(f"/clinic/sessions/{tid}/record", data=data)
    assert r.status_code == 303
    client.post(f"/clinic/sessions/{tid}/record", data=data)  # double submit: same row
    rows = in_app(
        lambda: db.session.scalars(
            sa.select(Treatment).where(Treatment.patient_id == world.patient_b)
        ).all()
    )
    assert len(rows) == 1 and rows[0].status == TreatmentStatus.DONE and rows[0].form == "foam"
    bob = app.test_client()
    login(bob, "bob@patients.example")
    page = text_of(bob.get("/patient/today"))
    assert "Treatment day" in page and "Wear your stockings day and night" in page
    assert "Until 11:15 on Mon 23 Nov" in page  # 72 hours


def test_record_refuses_a_future_time_and_bad_form(client, world, in_app):
    tid = _bob_treatment(in_app, world)
    login(client, "doc1@north.example")
    base = {
        "date": "2026-11-21",
        "time": "11:15",
        "sclerosant": "STS",
        "form": "liquid",
        "areas": "calf",
        "checks_done": "y",
    }
    r = client.post(f"/clinic/sessions/{tid}/record", data=base)
    assert r.status_code == 400 and "That time is in the future." in text_of(r)
    r = client.post(
        f"/clinic/sessions/{tid}/record", data={**base, "date": "2026-11-20", "form": "gel"}
    )
    assert r.status_code == 400 and "Not a valid choice" in text_of(r)
    assert in_app(lambda: db.session.get(Treatment, tid).status) == TreatmentStatus.SCHEDULED


def test_book_another_session_shows_in_the_patients_course(app, client, world, in_app):
    from app.models import Clinic

    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1), "compression-24h"))
    login(client, "doc1@north.example")
    r = client.post(
        f"/clinic/patients/{world.patient_a}/sessions",
        data={"date": "2027-01-05", "time": "10:00", "protocol": vid},
    )
    assert r.status_code == 303
    alice = app.test_client()
    login(alice, "alice@patients.example")
    plan = text_of(alice.get("/patient/plan"))
    assert "Session 2: booked for Tue 5 Jan 2027, 10:00" in plan
    today = text_of(alice.get("/patient/today"))
    assert "Day 3 after your treatment" in today and "Before your next appointment" in today


def test_patient_list_search_and_pagination(client, world, in_app):
    from app.models import Clinic
    from tests.conftest import make_patient

    def many():
        clinic = db.session.get(Clinic, world.clinic1)
        for i in range(30):
            make_patient(clinic, f"p{i:02d}@patients.example", day=1, name=f"Zed Person {i:02d}")

    in_app(many)
    login(client, "doc1@north.example")
    page = text_of(client.get("/clinic/patients"))
    assert "32 patients" in page and "Page 1 of 2" in page
    assert "Cara" not in page  # other clinic
    found = text_of(client.get("/clinic/patients?q=marker-a"))
    assert "1 patient matching" in found and "Alice Marker-A" in found
    assert "Page 2 of 2" in text_of(client.get("/clinic/patients?page=2"))
    assert client.get("/clinic/patients?page=abc").status_code == 200


def test_clinician_sees_the_patients_checklist_state(app, client, world):
    bob = app.test_client()
    login(bob, "bob@patients.example")
    bob.post("/patient/checklist/no-lotions", data={"done": "1"})
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_b}"))
    # The duplex scan and consultation are the clinic's tasks (issue 14 point 10): not in
    # the patient's count, never "overdue", listed apart.
    assert "Checklist for the next session" in page and "1 of 4 done." in page
    assert "✓ No lotions, creams or oils on your legs" in page
    assert "Overdue:" not in page
    assert "The clinic's own tasks (confirmed when recording the treatment):" in page
    assert "Scan the veins of your legs (duplex ultrasound)" in page
