"""`flask clinic create` and `flask clinic list` (issue 17 point 1): a clinic and its
first admin from the command line, a one-time sign-in link from the configured base
URL, and a clear error (no traceback) for every mistake."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Invitation
from app.models import Role
from app.models import User
from tests.conftest import PASSWORD
from tests.conftest import PROTOCOL_DIR
from tests.conftest import count
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import text_of

LINK = re.compile(r"^(https?://\S+/invite/(\S+))$", re.M)


def create_args(**changes: str | None) -> list[str]:
    """`flask clinic create` for North Leeds, with options changed or (None) left out."""
    options = {
        "--slug": "north-leeds",
        "--time-zone": "Europe/London",
        "--admin-email": "Lead@North-Leeds.example",
        "--admin-name": "Dr Lead",
        "--phone": "0113 496 0000",
        "--emergency-number": "999",
    }
    options.update(changes)
    args = ["clinic", "create", "North Leeds Vein Clinic"]
    for option, value in options.items():
        if value is not None:
            args += [option, value]
    return args


def test_create_makes_the_clinic_its_admin_and_a_sign_in_link(app, runner, in_app):
    app.config["SCLERO_BASE_URL"] = "https://care.example-clinic.uk/"
    result = runner.invoke(
        args=create_args(**{"--out-of-hours-name": "NHS 111"}, **{"--out-of-hours-phone": "111"})
    )
    assert result.exit_code == 0, result.output
    link, token = LINK.search(result.output).groups()
    assert link == f"https://care.example-clinic.uk/invite/{token}"

    def made():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north-leeds"))
        admin = db.session.scalar(sa.select(User).where(User.clinic_id == clinic.id))
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.clinic_id == clinic.id))
        return clinic, admin, count(Invitation), event

    clinic, admin, invitations, event = in_app(made)
    assert (clinic.name, clinic.timezone) == ("North Leeds Vein Clinic", "Europe/London")
    assert (clinic.phone, clinic.emergency_number) == ("0113 496 0000", "999")
    assert (clinic.out_of_hours_name, clinic.out_of_hours_phone) == ("NHS 111", "111")
    assert (admin.email, admin.name, admin.role) == (
        "lead@north-leeds.example",
        "Dr Lead",
        Role.CLINIC_ADMIN,
    )
    assert admin.password_hash is None and invitations == 1
    # The clinic's audit log starts with its creation, from the command line.
    assert (event.action, event.actor_name) == ("create", "command line")
    assert event.detail == (
        "clinic north-leeds created; first admin lead@north-leeds.example invited"
    )


def test_the_link_lets_the_admin_set_a_password_and_reach_the_dashboard(app, runner):
    result = runner.invoke(args=create_args())
    link, token = LINK.search(result.output).groups()
    assert link.startswith("http://localhost/invite/")  # TestingConfig's SCLERO_BASE_URL
    admin = app.test_client()
    assert "Welcome, Dr Lead" in text_of(admin.get(f"/invite/{token}"))
    r = admin.post(f"/invite/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/clinic/")
    page = admin.get("/clinic/")
    assert page.status_code == 200 and "Clinic settings" in text_of(page)
    # The link is single-use.
    assert app.test_client().get(f"/invite/{token}").status_code == 410


def test_base_url_option_and_a_path_prefix(app, runner):
    app.config["SCLERO_BASE_URL"] = None
    result = runner.invoke(args=[*create_args(), "--base-url", "https://example.org/sclero"])
    assert result.exit_code == 0, result.output
    assert LINK.search(result.output).group(1).startswith("https://example.org/sclero/invite/")


def test_no_base_url_is_a_clear_error_and_creates_nothing(app, runner, in_app):
    app.config["SCLERO_BASE_URL"] = None
    result = runner.invoke(args=create_args())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--base-url or SCLERO_BASE_URL" in result.output
    assert in_app(count, Clinic) == 0
    result = runner.invoke(args=[*create_args(), "--base-url", "javascript:alert(1)"])
    assert result.exit_code == 1 and in_app(count, Clinic) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"--time-zone": "Europe/Londres"}, "--time-zone: 'Europe/Londres' is not an IANA"),
        ({"--admin-email": "lead at north"}, "--admin-email: Enter a real email address"),
        ({"--slug": "North Leeds"}, "--slug: Use 1 to 60 lower-case letters"),
        ({"--phone": "ring us"}, "--phone: Enter a phone number using digits"),
        ({"--emergency-number": "99x"}, "--emergency-number: Enter the emergency number as"),
        ({"--out-of-hours-phone": "111"}, "--out-of-hours-name: Name the out-of-hours line"),
        ({"--phone": None}, "Missing option '--phone'"),
        ({"--emergency-number": None}, "Missing option '--emergency-number'"),
        ({"--admin-email": None}, "Missing option '--admin-email'"),
    ],
)
def test_each_mistake_is_a_clear_error_without_a_traceback(runner, in_app, changes, message):
    result = runner.invoke(args=create_args(**changes))
    assert result.exit_code != 0
    assert message in result.output, result.output
    # A usage error or a ClickException: exit code and message, never an exception.
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert in_app(count, Clinic) == 0 and in_app(count, User) == 0


def test_a_taken_slug_or_a_used_email_is_refused(runner, in_app):
    in_app(make_clinic, "north-leeds")
    result = runner.invoke(args=create_args())
    assert result.exit_code == 1
    assert "--slug: The slug 'north-leeds' is taken" in result.output
    assert runner.invoke(args=create_args(**{"--slug": "leeds-two"})).exit_code == 0
    result = runner.invoke(args=create_args(**{"--slug": "leeds-three"}))
    assert result.exit_code == 1
    assert "--admin-email: There is already an account" in result.output
    assert in_app(count, Clinic) == 2


def test_protocols_load_works_for_the_new_clinic_and_list_shows_it(runner):
    assert runner.invoke(args=create_args()).exit_code == 0
    result = runner.invoke(
        args=[
            "protocols",
            "load",
            f"{PROTOCOL_DIR}/compression-72h.toml",
            "--clinic",
            "north-leeds",
        ]
    )
    assert (
        result.exit_code == 0 and "north-leeds: compression-72h v1 (new version)" in result.output
    )
    result = runner.invoke(args=["clinic", "list"])
    assert result.exit_code == 0
    assert (
        "north-leeds\tNorth Leeds Vein Clinic\tEurope/London\t1 staff\t0 patients" in result.output
    )


def test_list_with_no_clinics_says_how_to_make_one(runner):
    result = runner.invoke(args=["clinic", "list"])
    assert result.exit_code == 0 and "flask clinic create" in result.output


def test_the_admin_can_sign_in_after_setting_a_password(app, runner):
    token = LINK.search(runner.invoke(args=create_args()).output).group(2)
    app.test_client().post(f"/invite/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    admin = app.test_client()
    assert login(admin, "lead@north-leeds.example").status_code == 302
    assert admin.get("/clinic/settings").status_code == 200
