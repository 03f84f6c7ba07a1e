"""The clinic settings page (issue 17 point 2): admins only, every field checked on its
own with what was typed kept, each change audited with before and after, and patients
and new patients following the settings from their next page."""

from __future__ import annotations

import re
from datetime import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Patient
from app.models import Role
from app.models import User
from tests.conftest import count
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.conftest import version_id
from tests.web.test_checkin import form as checkin_form

ADMIN = "admin1@north.example"


def settings_form(**changes: str) -> dict[str, str]:
    """The whole form as the page posts it for a clinic made by ``make_clinic("north")``
    (open Mon-Fri 09:00-17:00), with ``changes`` on top."""
    data = {
        "name": "North Clinic",
        "phone": "01632 960 111",
        "emergency_number": "999",
        "out_of_hours_name": "NHS 111",
        "out_of_hours_phone": "111",
        "out_of_hours": "Or go to an urgent treatment centre.",
        "timezone": "Europe/London",
        "default_protocol_key": "",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "reply_to_email": "",
    }
    for day in range(7):
        weekday = day < 5
        if weekday:
            data[f"day-{day}-open"] = "1"
        data[f"day-{day}-start-0"] = "09:00" if weekday else ""
        data[f"day-{day}-end-0"] = "17:00" if weekday else ""
        data[f"day-{day}-start-1"] = ""
        data[f"day-{day}-end-1"] = ""
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _clinic(clinic_id: int) -> Clinic:
    return db.session.get(Clinic, clinic_id)


def _changes() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.detail)
            .where(AuditEvent.action == "change")
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def admin(app, world, in_app):
    in_app(lambda: make_staff(_clinic(world.clinic1), ADMIN, Role.CLINIC_ADMIN))
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


def test_page_shows_the_clinic_as_it_is(admin):
    page = admin.get("/clinic/settings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="name" type="text" value="North Clinic"' in html
    # Monday is open 09:00-17:00; Saturday is closed with empty times.
    assert re.search(r'id="day-0-open" name="day-0-open" value="1" checked', html)
    assert 'name="day-0-start-0" type="time" value="09:00"' in html
    assert 'name="day-0-end-0" type="time" value="17:00"' in html
    assert not re.search(r'id="day-5-open" name="day-5-open" value="1" checked', html)
    assert '<option value="Europe/London" selected>' in html
    assert "Patients you have already added keep their own time zone" in text_of(page)


def test_settings_are_for_clinic_admins_only(app, world, admin):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert doc.get("/clinic/settings").status_code == 404
    assert doc.post("/clinic/settings", data=settings_form(name="Taken")).status_code == 404
    assert doc.get("/clinic/settings/hours").status_code == 404
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert alice.get("/clinic/settings").status_code == 404
    assert alice.post("/clinic/settings", data=settings_form(name="Taken")).status_code == 404
    assert app.test_client().get("/clinic/settings").status_code == 302  # to sign in


def test_old_hours_page_leads_to_the_settings(admin):
    r = admin.get("/clinic/settings/hours")
    assert r.status_code == 303 and r.headers["Location"].endswith("/clinic/settings#hours")


def test_admin_changes_settings_each_change_audited_with_before_and_after(admin, in_app, world):
    data = settings_form(
        name="North Leeds Vein Clinic",
        phone="0113 496 0000",
        emergency_number="112",
        out_of_hours="Or ring the ward.",
        timezone="Europe/Dublin",
        default_protocol_key="compression-24h",
        quiet_start="22:30",
        quiet_end="07:00",
        reply_to_email="Reception@North.example",
        **{"day-5-open": "1", "day-5-start-0": "09:00", "day-5-end-0": "13:00"},
    )
    r = admin.post("/clinic/settings", data=data)
    assert r.status_code == 303 and r.headers["Location"].endswith("/clinic/settings")
    clinic = in_app(_clinic, world.clinic1)
    assert clinic.name == "North Leeds Vein Clinic"
    assert (clinic.phone, clinic.emergency_number) == ("0113 496 0000", "112")
    assert clinic.out_of_hours == "Or ring the ward."
    assert clinic.hours == clinic.opening_hours == "Mon-Fri 09:00-17:00; Sat 09:00-13:00"
    assert clinic.timezone == "Europe/Dublin"
    assert clinic.default_protocol_key == "compression-24h"
    assert (clinic.default_quiet_start, clinic.default_quiet_end) == (time(22, 30), time(7))
    assert clinic.reply_to_email == "reception@north.example"
    changes = in_app(_changes)
    assert "clinic settings, name: North Clinic -> North Leeds Vein Clinic" in changes
    assert "clinic settings, emergency number: 999 -> 112" in changes
    assert (
        "clinic settings, opening hours: Mon-Fri 09:00-17:00 -> "
        "Mon-Fri 09:00-17:00; Sat 09:00-13:00"
    ) in changes
    assert "clinic settings, default quiet hours: 21:00-08:00 -> 22:30-07:00" in changes
    assert "clinic settings, reply-to email: (blank) -> reception@north.example" in changes
    # Only what changed: the out-of-hours line was sent unchanged.
    assert not [c for c in changes if "out-of-hours line" in c or "out-of-hours number" in c]
    assert len(changes) == 9
    page = admin.get("/clinic/settings")
    assert "Saved: name, main number" in text_of(page)
    # The same form again (a double submit) changes and audits nothing.
    assert admin.post("/clinic/settings", data=data).status_code == 303
    assert len(in_app(_changes)) == 9
    assert "Nothing has changed." in text_of(admin.get("/clinic/settings"))


def test_every_bad_field_gets_its_own_message_and_what_was_typed_stays(admin, in_app, world):
    data = settings_form(
        name="",
        phone="call us",
        emergency_number="99x",
        out_of_hours_name="",
        out_of_hours_phone="111",
        timezone="Mars/Olympus",
        default_protocol_key="not-ours",
        quiet_start="21:00",
        quiet_end="21:00",
        reply_to_email="reception at north",
        **{"day-0-start-0": "9", "day-2-end-0": ""},
    )
    r = admin.post("/clinic/settings", data=data)
    page, html = text_of(r), r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Nothing was saved" in page
    assert "Enter the clinic's name." in page
    assert "Enter a phone number using digits" in page
    assert "Enter the emergency number as 2 to 6 digits" in page
    assert "Name the out-of-hours line" in page
    assert "Choose a time zone from the list" in page
    assert "Choose one of your clinic's protocols, or none." in page
    assert "Quiet hours must start and end at different times." in page
    assert "Enter a real email address" in page
    assert "Monday: '9' is not a time; write it as 08:30." in page
    # Each message is tied to its field, and the summary links to it.
    assert 'id="phone-error"' in html and 'aria-describedby="phone-hint phone-error"' in html
    assert 'href="#day-0-open"' in html and 'id="day-0-error"' in html
    # What was typed is shown again.
    assert 'value="call us"' in html and 'value="reception at north"' in html
    assert 'value="99x"' in html
    # Nothing stored, nothing audited.
    assert in_app(_clinic, world.clinic1).phone == "01632 960 111"
    assert in_app(_changes) == []


def test_a_day_running_past_midnight_into_the_next_days_opening_is_refused(admin):
    data = settings_form(**{"day-4-start-0": "20:00", "day-4-end-0": "10:00"})
    data |= {"day-5-open": "1", "day-5-start-0": "09:00", "day-5-end-0": "12:00"}
    r = admin.post("/clinic/settings", data=data)
    assert r.status_code == 400 and "Fri 20:00-10:00 overlaps Sat 09:00-12:00." in text_of(r)


def test_open_all_day_a_break_and_closed_days(admin, in_app, world):
    data = settings_form(
        **{
            "day-0-start-1": "13:30",
            "day-0-end-0": "12:30",
            "day-0-end-1": "17:00",
            "day-6-open": "1",
            "day-6-start-0": "00:00",
            "day-6-end-0": "00:00",
            "day-4-open": None,  # Friday unticked: closed, whatever its times say
        }
    )
    assert admin.post("/clinic/settings", data=data).status_code == 303
    assert in_app(_clinic, world.clinic1).hours == (
        "Mon 09:00-12:30, 13:30-17:00; Tue-Thu 09:00-17:00; Sun 00:00-24:00"
    )
    html = admin.get("/clinic/settings").get_data(as_text=True)
    assert 'name="day-0-start-1" type="time" value="13:30"' in html


@pytest.mark.parametrize(
    "odd",
    ["\x00", "a\x00b", "x" * 100_000, "<script>alert(1)</script>", "\u202e999", "😀"],
)
def test_any_bytes_in_any_field_is_never_a_500(admin, in_app, world, odd):
    for name in ("name", "phone", "out_of_hours", "timezone", "quiet_start", "day-1-end-0"):
        r = admin.post("/clinic/settings", data=settings_form(**{name: odd}))
        assert r.status_code in (303, 400), (name, r.status_code)
        assert "<script>alert" not in r.get_data(as_text=True)


def test_bytes_that_are_not_utf8_are_never_a_500(admin, in_app, world):
    from urllib.parse import urlencode

    for name in ("name", "emergency_number", "reply_to_email", "day-0-start-0"):
        fields = settings_form()
        fields.pop(name)
        body = urlencode(fields).encode() + f"&{name}=%FF%FE%ED%A0%80".encode()
        r = admin.post(
            "/clinic/settings", data=body, content_type="application/x-www-form-urlencoded"
        )
        assert r.status_code in (303, 400), (name, r.status_code)
    assert in_app(_clinic, world.clinic1).emergency_number == "999"


def test_patients_see_a_change_on_their_next_page(app, admin, world):
    alice = app.test_client()
    login(alice, "alice@patients.example")
    before = text_of(alice.get("/patient/today"))
    assert "North Clinic" in before and "Call 999" in before
    data = settings_form(
        name="North Leeds Vein Clinic",
        phone="0113 496 0000",
        emergency_number="112",
        out_of_hours_name="Leeds Out of Hours",
        out_of_hours_phone="0113 496 0999",
        out_of_hours="Or ring the ward.",
    )
    assert admin.post("/clinic/settings", data=data).status_code == 303
    page = alice.get("/patient/today")
    text = text_of(page)
    assert "North Leeds Vein Clinic" in text and "Call 0113 496 0000" in text
    assert "Call 112" in text and "Call 999" not in text
    assert "Call Leeds Out of Hours: 0113 496 0999" in text and "Or ring the ward." in text
    assert 'href="tel:112"' in page.get_data(as_text=True)
    # The triage advice too: the emergency answer's screen calls the new number.
    r = alice.post("/patient/checkin", data=checkin_form(yes={"chest-breathing"}))
    assert "Call 112 now" in text_of(r) and 'href="tel:112">Call 112</a>' in r.get_data(True)
    assert "Call 999" not in text_of(r)
    # The other clinic's patient is untouched.
    cara = app.test_client()
    login(cara, "cara@patients.example")
    assert "Call 999" in text_of(cara.get("/patient/today"))


def test_new_patients_get_the_default_protocol_and_quiet_hours(app, admin, in_app, world):
    data = settings_form(
        default_protocol_key="compression-24h",
        quiet_start="22:00",
        quiet_end="07:30",
        timezone="Europe/Paris",
    )
    assert admin.post("/clinic/settings", data=data).status_code == 303
    doc = app.test_client()
    login(doc, "doc1@north.example")
    wanted = in_app(lambda: version_id(_clinic(world.clinic1), "compression-24h"))
    html = doc.get("/clinic/patients/new").get_data(as_text=True)
    assert f'<option selected value="{wanted}">' in html
    assert '<option selected value="Europe/Paris">' in html
    # The booking form on a patient's page keeps the patient's own protocol instead
    # (issue 19 point 2): Alice is on the 72-hour one.
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    own = in_app(lambda: version_id(_clinic(world.clinic1), "compression-72h"))
    assert f'<option selected value="{own}">' in html.split("Book another session")[1]
    r = doc.post(
        "/clinic/patients/new",
        data={
            "name": "Nia New",
            "email": "nia@patients.example",
            "timezone": "Europe/Paris",
            "date": "2026-11-25",
            "time": "10:00",
            "protocol": str(wanted),
        },
    )
    assert r.status_code == 200  # the new patient's page

    def nia():
        return db.session.scalar(
            sa.select(Patient).join(User).where(User.email == "nia@patients.example")
        )

    patient = in_app(nia)
    assert (patient.quiet_start, patient.quiet_end) == (time(22), time(7, 30))
    # The clinic's zone changed; patients already added keep theirs.
    assert in_app(lambda: db.session.get(Patient, world.patient_a).timezone) == "Europe/London"


def test_an_admin_changes_only_their_own_clinic(app, admin, in_app, world):
    assert admin.post("/clinic/settings", data=settings_form(name="Renamed")).status_code == 303
    assert in_app(_clinic, world.clinic2).name == "South Clinic"
    assert in_app(count, AuditEvent) == 1


def test_digits_typed_in_another_script_are_stored_in_ascii(admin, in_app, world):
    # A full-width keyboard types "１１２"; Python's \d takes it for digits, and the call
    # button became tel:１１２, which a phone's dialler may not dial.
    data = settings_form(
        emergency_number="１１２", phone="٠١٦٣٢ ٩٦٠ ٠٠٠", out_of_hours_phone="＋４４ １１１"
    )
    assert admin.post("/clinic/settings", data=data).status_code == 303
    clinic = in_app(_clinic, world.clinic1)
    assert (clinic.emergency_number, clinic.phone) == ("112", "01632 960 000")
    assert clinic.out_of_hours_phone == "+44 111"


@pytest.mark.parametrize(
    "field, typed, message",
    [
        ("emergency_number", "１１x", "Enter the emergency number as 2 to 6 digits"),
        ("emergency_number", "99²", "Enter the emergency number as 2 to 6 digits"),
        ("phone", "01632 960 ０００ ⁰", "Enter a phone number using digits"),
        ("out_of_hours_phone", "111\u3164", "Enter a phone number using digits"),
    ],
)
def test_what_is_still_not_ascii_after_that_is_refused(admin, in_app, world, field, typed, message):
    r = admin.post("/clinic/settings", data=settings_form(**{field: typed}))
    assert r.status_code == 400 and message in text_of(r)
    assert in_app(_clinic, world.clinic1).emergency_number == "999"


def test_every_call_link_is_ascii_even_for_a_number_stored_before_the_check(app, in_app, world):
    # Defence in depth: a value stored by an older version is never put in a tel: link as
    # it is.
    def legacy() -> None:
        clinic = _clinic(world.clinic1)
        clinic.emergency_number, clinic.phone = "１１２", "٠١٦٣٢ ٩٦٠ ٠٠٠"
        clinic.out_of_hours_phone = "１１１"
        db.session.commit()

    in_app(legacy)
    alice = app.test_client()
    login(alice, "alice@patients.example")
    pages = [alice.get("/patient/today"), alice.get("/patient/checkin")]
    pages.append(alice.post("/patient/checkin", data=checkin_form(yes={"chest-breathing"})))
    links = [link for r in pages for link in re.findall(r'href="tel:([^"]*)"', r.get_data(True))]
    assert "112" in links and "01632960000" in links
    assert links and all(re.fullmatch(r"\+?[0-9]+", link) for link in links), links
