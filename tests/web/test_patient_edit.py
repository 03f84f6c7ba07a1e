"""Editing a patient's details from the clinician's patient page (issue 17 point 4): name,
email, phone and time zone, audited with before and after; a new time zone re-plans the
reminders at the same wall-clock times in the new zone, across a clock change too."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.services.notify import enqueue
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of

DOC1 = "doc1@north.example"


def details(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Alice Newname",
        "email": "alice.new@patients.example",
        "phone": "07700 900123",
        "timezone": "Europe/Paris",
    }
    data.update(overrides)
    return data


def _alice(world) -> tuple[str, str, str, str]:
    p = db.session.get(Patient, world.patient_a)
    return p.user.name, p.user.email, p.phone, p.timezone


def _changes(patient_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.detail)
            .where(AuditEvent.patient_id == patient_id, AuditEvent.action == "change")
            .order_by(AuditEvent.id)
        )
    )


def test_the_patient_page_links_to_a_prefilled_edit_form(client, world):
    login(client, DOC1)
    page = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f"/clinic/patients/{world.patient_a}/edit" in page
    form = client.get(f"/clinic/patients/{world.patient_a}/edit")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'value="Alice Marker-A"' in html and 'value="alice@patients.example"' in html
    assert '<option selected value="Europe/London">' in html


def test_saving_changes_every_field_and_audits_before_and_after(client, world, in_app):
    login(client, DOC1)
    r = client.post(f"/clinic/patients/{world.patient_a}/edit", data=details())
    assert r.status_code == 303
    assert in_app(_alice, world) == (
        "Alice Newname",
        "alice.new@patients.example",
        "07700 900123",
        "Europe/Paris",
    )
    assert in_app(_changes, world.patient_a) == [
        "name: Alice Marker-A → Alice Newname",
        "email: alice@patients.example → alice.new@patients.example",
        "phone number: (none) → 07700 900123",
        "time zone: Europe/London → Europe/Paris",
    ]
    assert "Saved: name, email, phone number, time zone." in text_of(client.get(r.location))
    # A double submit changes nothing more and writes no second set of audit lines.
    again = client.post(f"/clinic/patients/{world.patient_a}/edit", data=details())
    assert "Nothing changed." in text_of(client.get(again.location))
    assert len(in_app(_changes, world.patient_a)) == 4
    # The patient signs in with the new email (and no longer with the old one).
    other = client.application.test_client()
    assert login(other, "alice.new@patients.example").status_code == 302
    assert login(client.application.test_client(), "alice@patients.example").status_code == 401


def test_an_email_in_use_or_malformed_is_refused_on_the_field_keeping_what_was_typed(
    client, world, in_app
):
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    for email, message in (
        ("BOB@patients.example", "There is already an account with this email."),
        ("doc2@south.example", "There is already an account with this email."),
        ("not-an-email", "Enter an email address like name@example.com."),
        # Email cannot reach an accented mailbox name (no SMTPUTF8): refused at entry.
        ("josé@patients.example", "Enter an email address like name@example.com."),
        ("", "Enter the patient's email address."),
        ("a" * 300 + "@x.example", "An email address is at most 254 characters."),
    ):
        r = client.post(url, data=details(email=email, name="Typed Name"))
        assert r.status_code == 400, email
        html = r.get_data(as_text=True)
        assert message in text_of(r)
        assert 'id="email-error"' in html and 'aria-invalid="true"' in html
        assert 'value="Typed Name"' in html  # kept, not reset to the stored name
    assert in_app(_alice, world) == (
        "Alice Marker-A",
        "alice@patients.example",
        "",
        "Europe/London",
    )
    assert in_app(_changes, world.patient_a) == []


def test_odd_bytes_huge_strings_and_bad_choices_get_messages_never_500(client, world, in_app):
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    cases = [
        ({"name": "x" * 100_000}, "name", "Please keep the name under 120 characters."),
        ({"name": "  \x00 "}, "name", "Enter the patient's full name."),
        ({"phone": "call me\x00 maybe"}, "phone", "Enter a phone number using digits"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Choose a time zone from the list"),
        ({"timezone": "Éurope/Lóndon 🦵"}, "timezone", "Choose a time zone from the list"),
        ({"email": "alice@patients.example\x00"}, None, None),  # NUL removed: no change
    ]
    for override, field, message in cases:
        data = details(name="Alice Marker-A", email="alice@patients.example", phone="")
        data["timezone"] = "Europe/London"
        data.update(override)
        r = client.post(url, data=data)
        if field is None:
            assert r.status_code == 303, override
            continue
        assert r.status_code == 400, override
        assert message in text_of(r), override
        assert f'id="{field}-error"' in r.get_data(as_text=True)
    # Only a NUL inside a name is dropped, the rest kept as typed.
    r = client.post(url, data=details(name="Al\x00ice B"))
    assert r.status_code == 303
    assert in_app(_alice, world)[0] == "Alice B"


def test_another_clinics_clinician_gets_404_and_nothing_changes(client, world, in_app):
    login(client, "doc2@south.example")
    url = f"/clinic/patients/{world.patient_a}/edit"
    assert client.get(url).status_code == 404
    r = client.post(url, data=details())
    assert r.status_code == 404
    assert "Alice" not in text_of(r)
    assert in_app(_alice, world)[1] == "alice@patients.example"
    refused = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "refused", AuditEvent.detail.like("edit patient #%"))
        )
    )
    assert refused == 2


def _daily_rows(patient_id: int) -> dict[str, datetime]:
    return {
        row.key: row.due_at
        for row in db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.patient_id == patient_id,
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.key.like("daily:%"),
            )
        )
    }


def test_a_new_time_zone_moves_reminders_to_its_wall_clock_across_a_clock_change(
    client, world, in_app, clock
):
    """New York has been on summer time since 14 March 2027; London changes on 28 March.
    A patient treated in New York on 19 March moves to London: each 09:00 reminder must
    land at 09:00 London time, so 09:00 UTC before the change and 08:00 UTC after it (a
    fixed shift of the old instants would put them all one hour apart from that)."""
    clock.now = datetime(2027, 3, 20, 16, 0, tzinfo=UTC)

    def make() -> int:
        clinic = db.session.get(Clinic, world.clinic1)
        p = make_patient(
            clinic, "nyc@patients.example", day=1, tz="America/New_York", now=clock.now
        )
        enqueue.replan_patient(p.id, clock.now)
        db.session.commit()
        return p.id

    pid = in_app(make)
    before = in_app(_daily_rows, pid)
    ny, london = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
    assert before and {d.astimezone(ny).time() for d in before.values()} == {time(9, 0)}
    login(client, DOC1)
    r = client.post(
        f"/clinic/patients/{pid}/edit",
        data=details(name="Nyc", email="nyc@patients.example", phone="", timezone="Europe/London"),
    )
    assert r.status_code == 303
    after = in_app(_daily_rows, pid)
    assert set(after) == set(before)  # the same rows, moved (none added, none lost)
    for key, due in after.items():
        assert due.astimezone(london).time() == time(9, 0), key
        assert due.astimezone(london).date() == before[key].astimezone(ny).date(), key
    assert after["daily:2"] == datetime(2027, 3, 21, 9, 0, tzinfo=UTC)
    assert after["daily:10"] == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    assert date(2027, 3, 28) in {d.astimezone(london).date() for d in after.values()}


def test_every_problem_is_named_at_once_and_each_fix_is_kept(client, world, in_app):
    """A half-filled form corrected field by field: each round names all that is left."""
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    data = details(name="", email="nope", phone="abc", timezone="Nowhere")
    r = client.post(url, data=data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    for field in ("name", "email", "phone", "timezone"):
        assert f'id="{field}-error"' in html, field
    data["name"] = "Alice Fixed"
    r = client.post(url, data=data)
    html = r.get_data(as_text=True)
    assert 'id="name-error"' not in html and 'value="Alice Fixed"' in html
    assert 'id="email-error"' in html and 'id="timezone-error"' in html
    data.update(email="alice.fixed@patients.example", phone="", timezone="Europe/London")
    assert client.post(url, data=data).status_code == 303
    assert in_app(_alice, world)[:2] == ("Alice Fixed", "alice.fixed@patients.example")


def test_a_phone_typed_in_full_width_digits_is_stored_and_dialled_in_ascii(client, world, in_app):
    # The clinic's "Call" button for the patient is a tel: link: "０７７００" is not one.
    login(client, DOC1)
    data = details(phone="０７７００ ９００１２３")
    assert client.post(f"/clinic/patients/{world.patient_a}/edit", data=data).status_code == 303
    assert in_app(_alice, world)[2] == "07700 900123"
