"""Review of the clinic settings page and staff invitations (issue 17 point 2): text
that reorders what a patient reads, and settings reaching the patient's pages and the
triage advice across a change of the clocks."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import User
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_clinic_settings import admin  # noqa: F401 - the signed-in admin
from tests.web.test_clinic_settings import settings_form
from tests.web.test_staff_admin import admin as staff_admin  # noqa: F401

# Right-to-left override, left-to-right embedding, first-strong isolate: invisible, and
# they make "call 999" display as something else ("Trojan Source").
BIDI = ["\u202e", "\u202a", "\u2068"]


@pytest.mark.parametrize("char", BIDI)
def test_direction_controls_in_the_advice_are_refused_on_the_field(admin, in_app, world, char):  # noqa: F811
    typed = f"Call {char}999 llac now"
    r = admin.post("/clinic/settings", data=settings_form(out_of_hours=typed))
    assert r.status_code == 400
    assert "text-direction characters" in text_of(r)
    stored = in_app(lambda: db.session.get(Clinic, world.clinic1).out_of_hours)
    assert stored == "Or go to an urgent treatment centre."


def test_right_to_left_advice_without_controls_is_kept(admin, in_app, world):  # noqa: F811
    typed = "اتصل بالرقم 111 عندما تكون العيادة مغلقة"
    r = admin.post("/clinic/settings", data=settings_form(out_of_hours=typed))
    assert r.status_code == 303
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).out_of_hours) == typed


def test_out_of_hours_name_with_a_control_says_why(admin):  # noqa: F811
    r = admin.post("/clinic/settings", data=settings_form(out_of_hours_name="NHS\u202e111"))
    assert r.status_code == 400
    assert "under 80 characters" not in text_of(r)
    assert "letters, numbers and punctuation" in text_of(r)


@pytest.mark.parametrize("char", BIDI)
def test_direction_controls_in_a_staff_name_are_refused(staff_admin, in_app, char):  # noqa: F811
    r = staff_admin.post(
        "/clinic/staff",
        data={"name": f"Dr {char}reviR", "email": "river@north.example", "role": "clinician"},
    )
    assert r.status_code == 400
    assert "text-direction characters" in text_of(r)
    found = in_app(
        lambda: db.session.scalar(sa.select(User.id).where(User.email == "river@north.example"))
    )
    assert found is None


@pytest.mark.parametrize(
    ("instant", "opens"),
    [
        # Spring forward (Sunday 29 March 2026): 07:30 UTC is 07:30 on the Friday
        # before (closed) and 08:30 on the Monday after (open).
        (datetime(2026, 3, 27, 7, 30, tzinfo=UTC), "at 08:00 today"),
        (datetime(2026, 3, 30, 7, 30, tzinfo=UTC), None),
        # Fall back (Sunday 25 October 2026): 16:30 UTC is 17:30 on the Friday before
        # (closed) and 16:30 on the Monday after (open).
        (datetime(2026, 10, 23, 16, 30, tzinfo=UTC), "at 08:00 on Monday"),
        (datetime(2026, 10, 26, 16, 30, tzinfo=UTC), None),
    ],
)
def test_same_day_advice_follows_the_new_hours_across_a_clock_change(
    app,
    admin,  # noqa: F811
    in_app,
    world,
    clock,
    instant,
    opens,
):
    from tests.conftest import make_patient
    from tests.web.test_checkin import form as checkin_form

    hours = {f"day-{d}-start-0": "08:00" for d in range(5)}
    hours |= {f"day-{d}-end-0": "17:00" for d in range(5)}
    assert admin.post("/clinic/settings", data=settings_form(**hours)).status_code == 303
    clock.now = instant
    in_app(
        lambda: make_patient(
            db.session.get(Clinic, world.clinic1), "dst@patients.example", day=3, now=instant
        )
    )
    patient = app.test_client()
    assert login(patient, "dst@patients.example").status_code == 302
    r = patient.post("/patient/checkin", data=checkin_form(yes={"calf-pain-swelling"}))
    html, text = r.get_data(as_text=True), text_of(r)
    if opens is None:
        assert 'data-clinic-open="yes"' in html and "The clinic is open now." in text
        assert text.index("Call North Clinic") < text.index("Call NHS 111")
    else:
        assert 'data-clinic-open="no"' in html and "The clinic is closed now." in text
        assert f"The clinic opens {opens}." in text
        assert text.index("Call NHS 111") < text.index("Call North Clinic")


@pytest.mark.parametrize(("start", "end"), [("17:00", "09:00"), ("18:00", "08:30")])
def test_opening_and_closing_swapped_is_caught_not_read_as_a_night_opening(
    admin,  # noqa: F811
    in_app,
    world,
    start,
    end,
):
    """Monday 17:00 to 09:00 would have the clinic "open" all night, telling a patient
    at 3 am to ring the clinic first: almost surely the two times swapped."""
    r = admin.post(
        "/clinic/settings", data=settings_form(**{"day-0-start-0": start, "day-0-end-0": end})
    )
    assert r.status_code == 400
    assert f"Monday: {start} to {end} would keep the clinic open overnight" in text_of(r)
    assert f'value="{start}"' in r.get_data(as_text=True)  # what was typed stays
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).hours) == "Mon-Fri 09:00-17:00"


@pytest.mark.parametrize(
    ("start", "end"), [("20:00", "02:00"), ("00:00", "00:00"), ("09:00", "00:00")]
)
def test_a_real_night_opening_or_all_day_is_kept(admin, in_app, world, start, end):  # noqa: F811
    data = settings_form(**{"day-4-start-0": start, "day-4-end-0": end})
    assert admin.post("/clinic/settings", data=data).status_code == 303


@pytest.mark.parametrize(
    "typed",
    [
        "é@north.example",  # would go out as =?utf-8?q?=C3=A9?=@north.example: undeliverable
        "desk@bücher.example",
        "desk@north.example\r\nBcc: everyone@x.example",
        '"Desk" <desk@north.example>',
        "desk@north.example, other@x.example",
    ],
)
def test_a_reply_to_that_would_break_an_email_header_is_refused(admin, in_app, world, typed):  # noqa: F811
    r = admin.post("/clinic/settings", data=settings_form(reply_to_email=typed))
    assert r.status_code == 400
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).reply_to_email) == ""


def test_a_plain_reply_to_is_kept_lower_cased(admin, in_app, world):  # noqa: F811
    r = admin.post("/clinic/settings", data=settings_form(reply_to_email=" Desk@North.example "))
    assert r.status_code == 303
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).reply_to_email) == (
        "desk@north.example"
    )
