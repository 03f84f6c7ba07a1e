"""Same-day advice knows whether the clinic is open (issue 14 point 3), as the patient
sees it after a check-in, on the red-flag help box, and how an admin sets the hours."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_clinic_settings import settings_form

# Sunday 6 December 2026, 04:22 in London (GMT, so also UTC): the clinic is closed.
SUNDAY_0422 = datetime(2026, 12, 6, 4, 22, tzinfo=UTC)
TUESDAY_1000 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def _patient_at(in_app, clock, when, hours=None):
    clock.now = when

    def build():
        clinic = make_clinic("north")
        if hours is not None:
            clinic.hours, clinic.out_of_hours_name, clinic.out_of_hours_phone = hours
            db.session.commit()
        make_patient(clinic, "alice@patients.example", day=3, now=when)

    in_app(build)


def _tel_links(response) -> list[str]:
    return re.findall(r'href="tel:([^"]*)"', response.get_data(as_text=True))


def test_sunday_0422_calf_pain_goes_to_out_of_hours_first_with_next_opening(client, in_app, clock):
    _patient_at(in_app, clock, SUNDAY_0422)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(r)
    assert r.status_code == 200
    assert "Please call the clinic today" not in page
    assert "Please call NHS 111 for advice" in page
    assert "The clinic is closed now." in page
    assert "The clinic opens at 09:00 tomorrow." in page  # Monday 09:00 (builders' hours)
    links = _tel_links(r)
    assert links[0] == "111", links  # the first button is the out-of-hours line
    assert "01632960111" in links[1:]  # the clinic is still there, second


def test_open_clinic_is_the_first_button(client, in_app, clock):
    _patient_at(in_app, clock, TUESDAY_1000)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(r)
    assert "Please call the clinic today" in page and "The clinic is open now." in page
    assert "The clinic is closed now" not in page
    assert _tel_links(r)[0] == "01632960111"


def test_saturday_evening_says_monday(client, in_app, clock):
    _patient_at(in_app, clock, datetime(2026, 12, 5, 19, 0, tzinfo=UTC))
    login(client, "alice@patients.example")
    page = text_of(client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"})))
    assert "The clinic opens at 09:00 on Monday." in page


def test_no_hours_means_always_out_of_hours_without_an_opening_time(client, in_app, clock):
    _patient_at(in_app, clock, TUESDAY_1000, hours=("", "Vein nurse line", "01632 960 999"))
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(r)
    assert "The clinic is closed now." in page and "opens" not in page
    assert _tel_links(r)[0] == "01632960999"


def test_closed_with_no_out_of_hours_line_gives_no_closed_clinic_as_the_big_button(
    client, in_app, clock
):
    _patient_at(in_app, clock, SUNDAY_0422, hours=("Mon-Fri 09:00-17:00", "", ""))
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    html = r.get_data(as_text=True)
    assert "Call your local out-of-hours or urgent care service." in text_of(r)
    assert 'class="button call big"' not in html


def test_emergency_stays_emergency_number_first_when_closed(client, in_app, clock):
    _patient_at(in_app, clock, SUNDAY_0422)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    assert _tel_links(r)[0] == "999"
    assert "Call 999 now" in text_of(r)


def test_help_box_says_what_to_do_when_the_clinic_is_closed(client, in_app, clock):
    _patient_at(in_app, clock, TUESDAY_1000)
    login(client, "alice@patients.example")
    r = client.get("/patient/today")
    page = text_of(r)
    assert "When the clinic is closed , for anything that cannot wait until it opens" in page
    assert "Call NHS 111: 111" in page and "111" in _tel_links(r)
    assert "Open Mon-Fri 09:00-17:00." in page


# ------------------------------------------------------------------ flask clinic set-hours


def test_set_hours_stores_hours_summary_and_route(app, runner, in_app):
    in_app(make_clinic, "north")
    result = runner.invoke(
        args=[
            "clinic",
            "set-hours",
            "north",
            "Mon 08:30-18:00; Tue-Fri 08:30-18:00; Sat 09:00-13:00",
            "--out-of-hours-name",
            "NHS 111",
            "--out-of-hours-phone",
            "111",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Mon-Fri 08:30-18:00; Sat 09:00-13:00" in result.output
    clinic = in_app(lambda: db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")))
    assert clinic.hours == clinic.opening_hours == "Mon-Fri 08:30-18:00; Sat 09:00-13:00"
    assert (clinic.out_of_hours_name, clinic.out_of_hours_phone) == ("NHS 111", "111")


def test_set_hours_refuses_bad_input_with_a_clear_message_and_stores_nothing(app, runner, in_app):
    in_app(make_clinic, "north")
    cases = [
        (["north", "Mon 9-5"], "is not a time"),
        (["north", "Mon 08:00-12:00, 11:00-13:00"], "overlaps"),
        (["nowhere", "Mon 08:00-12:00"], "No clinic with the slug"),
    ]
    for args, message in cases:
        result = runner.invoke(
            args=["clinic", "set-hours", *args, "--out-of-hours-name", "NHS 111"]
            + ["--out-of-hours-phone", "111"]
        )
        assert result.exit_code != 0 and message in result.output, result.output
        assert "Traceback" not in result.output
    bad_phone = runner.invoke(
        args=["clinic", "set-hours", "north", "Mon 08:00-12:00"]
        + ["--out-of-hours-name", "NHS 111", "--out-of-hours-phone", "call us"]
    )
    assert bad_phone.exit_code != 0 and "digits" in bad_phone.output
    clinic = in_app(lambda: db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")))
    assert clinic.hours == "Mon-Fri 09:00-17:00"  # the builder's, unchanged


def test_demo_clinic_has_structured_hours(app, runner, in_app):
    assert runner.invoke(args=["dev", "seed-demo"]).exit_code == 0
    clinic = in_app(lambda: db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo")))
    assert clinic.hours.startswith("Mon-Thu 08:30-18:00")
    assert clinic.out_of_hours_phone == "111"


# ------------------------------------------------------------------ the admin's settings page


def test_admin_sets_hours_on_the_settings_page_and_patients_follow(app, in_app, clock):
    from app.models import AuditEvent
    from app.models import Role
    from tests.conftest import make_staff

    _patient_at(in_app, clock, SUNDAY_0422)
    in_app(
        lambda: make_staff(
            db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")),
            "admin@north.example",
            Role.CLINIC_ADMIN,
        )
    )
    admin = app.test_client()
    login(admin, "admin@north.example")
    page = admin.get("/clinic/settings")
    assert page.status_code == 200
    assert 'name="day-0-start-0" type="time" value="09:00"' in page.get_data(as_text=True)
    # Bad hours: refused with a message next to the day, what was typed kept.
    data = settings_form(
        out_of_hours_name="Vein nurse",
        out_of_hours_phone="01632 960 999",
        **{"day-6-open": "1", "day-6-start-0": "9", "day-6-end-0": "5"},
    )
    r = admin.post("/clinic/settings", data=data)
    assert r.status_code == 400 and "Sunday: '9' is not a time" in text_of(r)
    assert 'name="day-6-start-0" type="time" value="9"' in r.get_data(as_text=True)
    data |= {"day-6-start-0": "00:00", "day-6-end-0": "00:00"}
    r = admin.post("/clinic/settings", data=data)
    assert r.status_code == 303
    detail = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent.detail).where(
                AuditEvent.action == "change", AuditEvent.detail.like("%opening hours%")
            )
        )
    )
    assert "Sun 00:00-24:00" in detail
    # Sunday 04:22 is now open hours: the clinic is the first button for a patient.
    alice = app.test_client()
    login(alice, "alice@patients.example")
    r = alice.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert "Please call the clinic today" in text_of(r)
    assert _tel_links(r)[0] == "01632960111" and "01632960999" in _tel_links(r)


def test_settings_page_is_for_admins_only(app, world):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert doc.get("/clinic/settings/hours").status_code == 404
    assert doc.post("/clinic/settings/hours", data={"hours": ""}).status_code == 404
    assert doc.get("/clinic/settings").status_code == 404
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert alice.get("/clinic/settings/hours").status_code == 404


def test_a_patient_in_another_time_zone_reads_both_clocks_named(client, in_app, clock):
    """A New York patient of a London clinic: "opens at 04:00 tomorrow" beside opening
    hours "09:00-..." read as two times for one opening (adversarial review, T1)."""
    clock.now = SUNDAY_0422

    def build():
        clinic = make_clinic("north")
        make_patient(
            clinic, "alice@patients.example", day=3, now=SUNDAY_0422, tz="America/New_York"
        )

    in_app(build)
    login(client, "alice@patients.example")
    page = text_of(client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"})))
    # Monday 09:00 London is 04:00 in New York, and Sunday 04:22 UTC still Saturday there.
    assert (
        "The clinic opens at 09:00 tomorrow, clinic time (at 04:00 on Monday, your time)." in page
    )
