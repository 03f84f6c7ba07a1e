"""A fresh sign-in for sensitive staff actions (issue 18, checklist A9): past 15 minutes
since the person last proved who they are, roles, links, second-factor resets, clinic
settings and protocol sign-off send them to "Confirm it's you"; the refused POST does
nothing; after confirming they are back on their page and the action works."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Clinic
from app.models import Role
from app.models import User
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.web.test_mfa import code_for
from tests.web.test_mfa import enrol

ADMIN = "admin@north.example"
REFUSED = "For your safety, please confirm it's you, then do that again."


@pytest.fixture
def admin(app, in_app, world):
    """A signed-in client of clinic 1's admin."""
    in_app(lambda: make_staff(db.session.get(Clinic, world.clinic1), ADMIN, Role.CLINIC_ADMIN))
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


def go_stale(client, clock) -> None:
    """20 minutes since sign-in, never idle for more than 10 (the staff idle limit is
    15 minutes, which would end the session instead)."""
    clock.advance(minutes=10)
    assert client.get("/clinic/").status_code == 200
    clock.advance(minutes=10)


def events(in_app, *actions: str) -> list[str]:
    def read():
        query = sa.select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id)
        if actions:
            query = query.where(AuditEvent.action.in_(actions))
        return [f"{a}: {d}" for a, d in db.session.execute(query)]

    return in_app(read)


def role_of(in_app, user_id: int) -> str:
    return in_app(lambda: db.session.get(User, user_id).role.value)


def test_a_fresh_admin_acts_at_once(admin, world, in_app, clock):
    clock.advance(minutes=14)
    r = admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": "clinic_admin"})
    assert r.status_code == 303 and "/account/confirm" not in r.headers["Location"]
    assert role_of(in_app, world.clinician1) == "clinic_admin"


def test_a_stale_post_does_nothing_then_confirming_returns_to_the_page(admin, world, in_app, clock):
    go_stale(admin, clock)
    before = events(in_app)
    r = admin.post(
        f"/clinic/staff/{world.clinician1}/role",
        data={"role": "clinic_admin"},
        headers={"Referer": "http://localhost/clinic/staff"},
    )
    assert r.status_code == 303
    assert r.headers["Location"] == "/account/confirm?next=/clinic/staff"
    assert role_of(in_app, world.clinician1) == "clinician"
    assert events(in_app) == before  # nothing written, not even half of it
    page = admin.get(r.headers["Location"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert REFUSED in text_of(page) and "Confirm it's you" in text_of(page)
    assert 'autocomplete="current-password"' in page.get_data(as_text=True)
    done = admin.post("/account/confirm", data={"password": PASSWORD, "next": "/clinic/staff"})
    assert done.status_code == 303 and done.headers["Location"] == "/clinic/staff"
    assert events(in_app, "reauth") == ["reauth: confirmed it's them"]
    # Fresh again: the same change now happens.
    r = admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": "clinic_admin"})
    assert r.status_code == 303 and role_of(in_app, world.clinician1) == "clinic_admin"


def test_a_stale_get_of_the_staff_page_asks_first_and_comes_back(admin, clock):
    go_stale(admin, clock)
    r = admin.get("/clinic/staff")
    assert r.status_code == 303
    assert r.headers["Location"] == "/account/confirm?next=/clinic/staff"
    back = admin.post("/account/confirm", data={"password": PASSWORD, "next": "/clinic/staff"})
    assert back.headers["Location"] == "/clinic/staff"
    assert admin.get("/clinic/staff").status_code == 200


@pytest.mark.parametrize(
    "path, data",
    [
        ("/clinic/staff", {"name": "New Doc", "email": "new@north.example", "role": "clinician"}),
        ("/clinic/staff/{doc}/role", {"role": "clinic_admin"}),
        ("/clinic/staff/{doc}/deactivate", {}),
        ("/clinic/staff/{doc}/reactivate", {}),
        ("/clinic/staff/{doc}/link", {}),
        ("/clinic/staff/{doc}/second-factor/reset", {}),
        ("/clinic/settings", {"name": "Renamed clinic"}),
        ("/clinic/protocols/versions/1/sign-off", {"confirm": "yes"}),
        ("/clinic/patients/{alice}/invitation", {}),
    ],
)
def test_every_sensitive_action_is_refused_when_stale(admin, world, in_app, clock, path, data):
    go_stale(admin, clock)
    before = events(in_app)
    url = path.format(doc=world.clinician1, alice=world.patient_a)
    r = admin.post(url, data=data)
    assert r.status_code == 303 and r.headers["Location"].startswith("/account/confirm?next=")
    assert events(in_app) == before
    assert "/staff-link" not in r.get_data(as_text=True)


def test_a_link_for_a_patient_who_never_set_a_password_needs_no_confirming(
    admin, world, in_app, clock
):
    def unclaim():
        user = db.session.scalar(sa.select(User).where(User.email == "alice@patients.example"))
        user.password_hash = None
        db.session.commit()

    in_app(unclaim)
    go_stale(admin, clock)
    r = admin.post(f"/clinic/patients/{world.patient_a}/invitation", data={})
    assert r.status_code == 200
    assert events(in_app, "sign-in link")[0].startswith("sign-in link: invitation again")


def test_a_clinician_still_gets_404_not_the_confirm_page(app, world, clock):
    client = app.test_client()
    login(client, "doc1@north.example")
    go_stale(client, clock)
    assert client.get("/clinic/staff").status_code == 404
    assert client.post(f"/clinic/staff/{world.clinician1}/second-factor/reset").status_code == 404
    assert client.post("/clinic/protocols/versions/1/sign-off").status_code == 404


def test_wrong_passwords_are_audited_and_the_fifth_ends_the_session(admin, in_app, clock):
    go_stale(admin, clock)
    for _ in range(4):
        r = admin.post("/account/confirm", data={"password": "wrong", "next": "/clinic/staff"})
        assert r.status_code == 401
        assert "That password is not right" in text_of(r)
        assert 'aria-describedby="password-error"' in r.get_data(as_text=True)
        assert PASSWORD not in r.get_data(as_text=True)
    assert len(events(in_app, "reauth_failed")) == 4
    # An empty form is asked again, not counted.
    r = admin.post("/account/confirm", data={"password": "", "next": "/clinic/staff"})
    assert r.status_code == 400 and "Please type your password." in text_of(r)
    r = admin.post("/account/confirm", data={"password": "wrong", "next": "/clinic/staff"})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert events(in_app, "reauth_locked") == ["reauth_locked: 5 wrong tries; sign-in ended"]
    assert in_app(lambda: db.session.scalar(sa.select(AuthSession.revoked_at))) is not None
    # Signed out: the clinic's pages send the person to sign in, and the right
    # password on the confirm page is no way back in.
    assert "/login" in admin.get("/clinic/").headers["Location"]
    assert admin.post("/account/confirm", data={"password": PASSWORD}).status_code == 302


def test_an_account_with_a_second_factor_confirms_with_a_code_too(admin, in_app, clock):
    secret, done = enrol(admin, clock)
    assert done.status_code == 200
    go_stale(admin, clock)
    page = admin.get("/account/confirm?next=/clinic/staff")
    assert "Code from your authenticator app" in text_of(page)
    r = admin.post("/account/confirm", data={"password": PASSWORD, "next": "/clinic/staff"})
    assert r.status_code == 401 and "That code is not right" in text_of(r)
    assert events(in_app, "reauth_failed") == ["reauth_failed: wrong code (try 1)"]
    r = admin.post(
        "/account/confirm",
        data={"password": PASSWORD, "code": code_for(secret, clock), "next": "/clinic/staff"},
    )
    assert r.status_code == 303 and r.headers["Location"] == "/clinic/staff"
    assert admin.get("/clinic/staff").status_code == 200


def test_confirming_never_sends_the_person_off_site(admin, clock):
    go_stale(admin, clock)
    r = admin.post("/account/confirm", data={"password": PASSWORD, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["Location"] == "/clinic/"


def test_signed_out_visitors_are_sent_to_sign_in(client):
    r = client.get("/account/confirm")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_stale_session_cannot_set_up_an_authenticator_or_new_recovery_codes(
    client, world, in_app, clock
):
    """A copied staff session must not tie the account to another phone, nor make
    recovery codes that outlive it: both ask "confirm it's you" first."""
    login(client, "doc1@north.example")
    go_stale(client, clock)
    r = client.get("/account/second-factor")
    assert r.status_code == 303 and r.headers["Location"].startswith("/account/confirm")
    assert client.post("/account/confirm", data={"password": PASSWORD}).status_code in (302, 303)
    secret, done = enrol(client, clock)  # fresh again: the set-up goes ahead
    assert done.status_code == 200
    go_stale(client, clock)
    before = events(in_app, "mfa_recovery_regenerated")
    r = client.post("/account/second-factor/recovery-codes")
    assert r.status_code == 303 and r.headers["Location"].startswith("/account/confirm")
    assert events(in_app, "mfa_recovery_regenerated") == before
