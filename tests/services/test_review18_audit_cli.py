"""Review of issue 18 point 1 on the command line: staff writes made with `flask`
commands are audited too, and `flask users create-staff` is no quiet account takeover.

`flask users create-staff` set a new password on an existing staff account with no
audit event, left the old sessions signed in, accepted the person's own email as the
password, and reset the password of another clinic's staff when --clinic-id was wrong.
`flask clinic set-hours` changed whom patients are told to call with no audit event.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import User
from app.security import verify_password
from tests.conftest import login

NEW_PASSWORD = "plum orchard lantern 42"


def _events(in_app) -> list[AuditEvent]:
    def load() -> list[AuditEvent]:
        rows = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows

    return in_app(load)


def _create_staff(runner, email: str, clinic_id: int, password: str = NEW_PASSWORD, *extra):
    return runner.invoke(
        args=["users", "create-staff", email, "--name", "Nina Nurse", "--clinic-id", str(clinic_id)]
        + list(extra),
        input=f"{password}\n{password}\n",
    )


def _live_sessions(in_app, user_id: int) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        )
    )


def test_create_staff_is_audited_with_the_clinic(world, runner, in_app):
    result = _create_staff(runner, "nina@north.example", world.clinic1, NEW_PASSWORD, "--admin")
    assert result.exit_code == 0, result.output
    (event,) = _events(in_app)
    assert (event.clinic_id, event.actor_name, event.address) == (
        world.clinic1,
        "command line",
        "command line",
    )
    assert event.action == "create staff"
    assert event.detail == "nina@north.example as clinic_admin, with a password"
    assert NEW_PASSWORD not in event.detail


def test_a_new_password_for_existing_staff_is_audited_and_ends_their_sessions(
    app, world, runner, in_app
):
    doc = app.test_client()
    assert login(doc, "doc1@north.example").status_code == 302
    assert _live_sessions(in_app, world.clinician1) == 1

    result = _create_staff(runner, "doc1@north.example", world.clinic1)

    assert result.exit_code == 0, result.output
    assert in_app(
        lambda: verify_password(db.session.get(User, world.clinician1).password_hash, NEW_PASSWORD)
    )
    assert _live_sessions(in_app, world.clinician1) == 0
    assert doc.get("/clinic/").status_code in (302, 401)  # signed out
    (event,) = _events(in_app)
    assert (event.clinic_id, event.action) == (world.clinic1, "change")
    assert event.detail == "password of doc1@north.example set; all sessions ended"


def test_create_staff_refuses_another_clinics_account(world, runner, in_app):
    before = in_app(lambda: db.session.get(User, world.clinician2).password_hash)
    result = _create_staff(runner, "doc2@south.example", world.clinic1)
    assert result.exit_code != 0
    assert "another clinic" in result.output
    assert in_app(lambda: db.session.get(User, world.clinician2).password_hash) == before
    assert _events(in_app) == []


def test_create_staff_refuses_an_unknown_clinic(world, runner, in_app):
    result = _create_staff(runner, "nina@north.example", 9999)
    assert result.exit_code != 0
    assert "no clinic with id 9999" in result.output
    assert (
        in_app(lambda: db.session.scalar(sa.select(User).where(User.email == "nina@north.example")))
        is None
    )


def test_create_staff_refuses_the_persons_own_email_as_password(world, runner, in_app):
    result = _create_staff(
        runner,
        "nina.nurse.longname@north.example",
        world.clinic1,
        "nina.nurse.longname@north.example",
    )
    assert result.exit_code != 0
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(User).where(User.email == "nina.nurse.longname@north.example")
            )
        )
        is None
    )


def test_set_hours_on_the_command_line_is_audited(world, runner, in_app):
    result = runner.invoke(
        args=[
            "clinic",
            "set-hours",
            "north",
            "Mon-Fri 08:30-18:00",
            "--out-of-hours-name",
            "NHS 111",
            "--out-of-hours-phone",
            "111",
        ]
    )
    assert result.exit_code == 0, result.output
    (event,) = _events(in_app)
    assert (event.clinic_id, event.actor_name, event.action) == (
        world.clinic1,
        "command line",
        "change",
    )
    assert event.detail.startswith("opening hours: ")
    assert "-> Mon-Fri 08:30-18:00; out-of-hours line: " in event.detail
    assert event.detail.endswith("-> NHS 111: 111")
