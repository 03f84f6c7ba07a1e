"""Review of issue 18 point 2: using a sign-in link is on the audit trail, and another
clinic's admin cannot make one.

Making a link was audited, but using it (which sets a new password and ends every
session: how an account is taken over) left no event, so the trail could not say
when, or from which address, a link replaced a password.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Role
from tests.conftest import login
from tests.conftest import make_staff
from tests.web.test_signin_link_accountability import NEW_PASSWORD
from tests.web.test_signin_link_accountability import _invitations
from tests.web.test_signin_link_accountability import _token
from tests.web.test_signin_link_accountability import _unclaimed
from tests.web.test_signin_link_accountability import admin  # noqa: F401 - a fixture

ALICE = "alice@patients.example"


def _used(in_app) -> list[AuditEvent]:
    def load() -> list[AuditEvent]:
        rows = list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "sign-in link used")
            )
        )
        db.session.expunge_all()
        return rows

    return in_app(load)


def _alice_user(in_app, world) -> int:
    from app.models import Patient

    return in_app(lambda: db.session.get(Patient, world.patient_a).user_id)


def test_using_a_link_that_replaces_a_password_is_audited(app, admin, world, in_app):  # noqa: F811
    token = _token(admin.post(f"/clinic/patients/{world.patient_a}/invitation"))
    assert _used(in_app) == []
    r = app.test_client().post(
        f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert r.status_code == 302
    (event,) = _used(in_app)
    assert (event.clinic_id, event.actor_id, event.address) == (
        world.clinic1,
        _alice_user(in_app, world),
        "127.0.0.1",
    )
    assert event.detail == "password replaced; all sessions ended"
    assert NEW_PASSWORD not in event.detail and token not in event.detail


def test_using_a_first_invitation_is_audited_as_such(app, admin, world, in_app):  # noqa: F811
    _unclaimed(in_app, world.patient_a)
    token = _token(admin.post(f"/clinic/patients/{world.patient_a}/invitation"))
    r = app.test_client().post(
        f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert r.status_code == 302
    (event,) = _used(in_app)
    assert event.detail == "first password set"


def test_a_refused_password_leaves_no_used_event(app, admin, world, in_app):  # noqa: F811
    token = _token(admin.post(f"/clinic/patients/{world.patient_a}/invitation"))
    r = app.test_client().post(f"/invite/{token}", data={"password": "short", "confirm": "short"})
    assert r.status_code == 400  # the form again, with the rule that was broken
    assert _used(in_app) == []


def test_another_clinics_admin_cannot_make_a_link(app, world, in_app):
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic2), "boss@south.example", Role.CLINIC_ADMIN
        )
    )
    other = app.test_client()
    assert login(other, "boss@south.example").status_code == 302
    r = other.post(f"/clinic/patients/{world.patient_a}/invitation")
    assert r.status_code == 404
    assert _invitations(in_app, ALICE) == 0
    refused = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.clinic_id).where(AuditEvent.action == "refused")
        ).all()
    )
    assert refused == [world.clinic2]


# ------------------------------------------------------------------ /push/resubscribe

PUSH = "https://fcm.googleapis.com/fcm/send/review18-"


def _resubscribe(app, world, in_app, subscriber: str, subscribe_path: str) -> list[AuditEvent]:
    from tests.web.test_free_text import KEYS

    client = app.test_client()
    assert login(client, subscriber).status_code == 302
    old = PUSH + "old"
    r = client.post(subscribe_path, json={"subscription": {"endpoint": old, "keys": KEYS}})
    assert r.status_code == 200, r.get_data(as_text=True)
    # The service worker, with no sign-in, swaps the endpoint.
    r = app.test_client().post(
        "/push/resubscribe",
        json={"old_endpoint": old, "subscription": {"endpoint": PUSH + "new", "keys": KEYS}},
    )
    assert r.status_code == 200, r.get_data(as_text=True)

    def load() -> list[AuditEvent]:
        rows = list(
            db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "push resubscribe"))
        )
        db.session.expunge_all()
        return rows

    return in_app(load)


def test_a_staff_devices_renewed_push_address_is_audited(app, world, in_app):
    (event,) = _resubscribe(app, world, in_app, "doc1@north.example", "/clinic/reminders/subscribe")
    assert (event.clinic_id, event.actor_id, event.address) == (
        world.clinic1,
        world.clinician1,
        "127.0.0.1",
    )
    assert event.detail.startswith("device #") and "fcm" not in event.detail


def test_a_patients_renewed_push_address_is_not_a_staff_event(app, world, in_app):
    assert _resubscribe(app, world, in_app, ALICE, "/patient/reminders/subscribe") == []
