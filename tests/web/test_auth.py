"""Sign-in, throttling, logout revocation, safe redirects, invitations and CSRF."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app import create_app
from app.auth.routes import safe_next
from app.extensions import db
from app.models import AuthSession
from app.models import Invitation
from app.models import User
from app.services import accounts
from config import ProductionConfig
from config import TestingConfig
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of


def test_login_sends_patient_to_today_and_clinician_to_patients(client, world):
    r = login(client, "alice@patients.example")
    assert r.status_code == 302 and r.headers["Location"] == "/patient/today"
    client.post("/logout")
    r = login(client, "doc1@north.example")
    assert r.headers["Location"] == "/clinic/"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, world):
    a = login(client, "alice@patients.example", "wrong password here")
    b = login(client, "nobody@patients.example", "wrong password here")
    assert a.status_code == b.status_code == 401
    assert "That email and password do not match." in text_of(a)
    assert text_of(a) == text_of(b)


def test_ten_failures_throttle_the_account_even_with_the_right_password(client, world, clock):
    for _ in range(10):
        assert login(client, "alice@patients.example", "not my password!").status_code == 401
    r = login(client, "alice@patients.example", PASSWORD)
    assert r.status_code == 429
    assert "Too many attempts" in text_of(r)
    # Another client (another address) is throttled too: the count is per account.
    other = client.application.test_client()
    assert login(other, "alice@patients.example", PASSWORD).status_code == 429
    # An unknown email behaves the same way, so throttling reveals nothing.
    for _ in range(10):
        login(client, "ghost@patients.example", "not my password!")
    assert login(client, "ghost@patients.example", "not my password!").status_code == 429
    # The lock ends by itself after the window.
    clock.advance(minutes=16)
    assert login(client, "alice@patients.example", PASSWORD).status_code == 302


def test_logout_revokes_the_session_server_side(app, client, world):
    login(client, "alice@patients.example")
    assert client.get("/patient/today").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    r = client.post("/logout")
    assert r.headers.get("Clear-Site-Data") == '"cache", "cookies"'
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    r = thief.get("/patient/today")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_sessions_are_stored_hashed_and_expire_when_idle(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    token = in_app(lambda: db.session.scalar(sa.select(AuthSession.token_hash)))
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    clock.advance(minutes=31)  # patients: 30 minutes idle
    r = client.get("/patient/today")
    assert r.status_code == 302


def test_clinician_session_expires_after_15_idle_minutes(client, world, clock):
    login(client, "doc1@north.example")
    clock.advance(minutes=14)
    assert client.get("/clinic/").status_code == 200
    clock.advance(minutes=16)
    assert client.get("/clinic/").status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/patient/plan", "/patient/plan"),
        ("https://evil.example/x", None),
        ("//evil.example/x", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_safe_next_only_allows_local_paths(target, expected):
    assert safe_next(target) == expected


def test_login_follows_a_safe_next_and_ignores_an_unsafe_one(client, world):
    r = client.post(
        "/login",
        data={"email": "alice@patients.example", "password": PASSWORD, "next": "/patient/plan"},
    )
    assert r.headers["Location"] == "/patient/plan"
    client.post("/logout")
    r = client.post(
        "/login",
        data={
            "email": "alice@patients.example",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert r.headers["Location"] == "/patient/today"


def _invite(app, email: str) -> str:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        token = accounts.issue_invitation(user, None, app.config["SCLERO_NOW"]())
        db.session.commit()
        return token


def test_invitation_sets_password_once_and_is_stored_hashed(app, client, world, in_app):
    token = _invite(app, "bob@patients.example")
    page = client.get(f"/invite/{token}")
    assert page.status_code == 200 and "Welcome, Bob Marker-B" in text_of(page)
    stored = in_app(lambda: db.session.scalar(sa.select(Invitation.token_hash)))
    assert token not in stored and len(stored) == 64
    new = "a brand new sentence password"
    r = client.post(f"/invite/{token}", data={"password": new, "confirm": new})
    assert r.status_code == 302 and r.headers["Location"] == "/patient/today"
    assert client.get("/patient/today").status_code == 200
    # The link is single use: a second visit (or a double submit) gets the clear page.
    again = app.test_client().post(f"/invite/{token}", data={"password": new, "confirm": new})
    assert again.status_code == 410
    assert "already been used" in text_of(again) and "ask your clinic for a new link" in text_of(
        again
    )
    client.post("/logout")
    assert login(client, "bob@patients.example", new).status_code == 302


def test_expired_and_unknown_invitations_explain_what_to_do(app, client, world, clock):
    token = _invite(app, "bob@patients.example")
    clock.advance(days=7, seconds=1)
    r = client.get(f"/invite/{token}")
    assert (
        r.status_code == 410
        and "expired" in text_of(r)
        and "ask your clinic for a new link" in text_of(r)
    )
    r = client.get("/invite/not-a-real-token")
    assert r.status_code == 410 and "could not find" in text_of(r)


def test_a_new_invitation_replaces_the_old_one(app, client, world):
    first = _invite(app, "bob@patients.example")
    second = _invite(app, "bob@patients.example")
    assert client.get(f"/invite/{first}").status_code == 410
    assert client.get(f"/invite/{second}").status_code == 200


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short pass", "short pass", "Use at least 12 characters"),
        ("password1234", "password1234", "too common"),
        ("x" * 129, "x" * 129, "at most 128"),
        ("a long enough password", "a different one entirely", "not the same"),
    ],
)
def test_password_rules_are_explained_and_nothing_is_lost(
    app, client, world, password, confirm, message
):
    token = _invite(app, "bob@patients.example")
    r = client.post(f"/invite/{token}", data={"password": password, "confirm": confirm})
    assert r.status_code == 400
    assert message in text_of(r)
    assert client.get(f"/invite/{token}").status_code == 200  # the link still works


def test_unicode_passwords_work(app, client, world):
    token = _invite(app, "bob@patients.example")
    pw = "Grüße, café ☕ and emoji 🦵 too"
    assert client.post(f"/invite/{token}", data={"password": pw, "confirm": pw}).status_code == 302
    client.post("/logout")
    assert login(client, "bob@patients.example", pw).status_code == 302
    client.post("/logout")
    assert login(client, "bob@patients.example", pw[:-1]).status_code == 401


def test_setting_a_password_ends_other_sessions(app, client, world):
    other = app.test_client()
    login(other, "bob@patients.example")
    assert other.get("/patient/today").status_code == 200
    token = _invite(app, "bob@patients.example")
    pw = "another fine long password"
    client.post(f"/invite/{token}", data={"password": pw, "confirm": pw})
    assert other.get("/patient/today").status_code == 302


def test_production_hashes_use_argon2id_with_owasp_cost(app, in_app):
    params = ProductionConfig.SCLERO_ARGON2
    assert params["memory_cost"] >= 19456 and params["time_cost"] >= 2
    stored = PasswordHasher(**params).hash("x" * 12)
    assert stored.startswith("$argon2id$") and "m=19456,t=2" in stored


def test_production_refuses_to_start_without_secrets(monkeypatch):
    from config import ConfigError

    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="FLASK_SECRET_KEY"):
        create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="short")


class CsrfConfig(TestingConfig):
    WTF_CSRF_ENABLED = True


def test_csrf_is_enforced_on_forms(database_url, _schema, in_app, world):
    app = create_app(CsrfConfig, SQLALCHEMY_DATABASE_URI=database_url)
    try:
        client = app.test_client()
        data = {"email": "alice@patients.example", "password": PASSWORD}
        r = client.post("/login", data=data)
        assert r.status_code == 400 and "expired" in text_of(r)
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post("/login", data={**data, "csrf_token": csrf}).status_code == 302
        # A tick without the token is refused.
        assert client.post("/patient/tasks/walks", data={"done": "1"}).status_code == 400
    finally:
        with app.app_context():
            db.engine.dispose()


def test_session_cookie_is_http_only_and_samesite_lax(client, world):
    r = login(client, "alice@patients.example")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
