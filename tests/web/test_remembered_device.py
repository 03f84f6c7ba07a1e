"""A patient's remembered phone: after the short sign-in session ends, "Welcome back,
enter your PIN" opens a new one (issue 18 point 10; docs/decisions/session-lifetimes.md).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import RememberedDevice
from app.models import User
from app.services import accounts
from app.services.accounts import devices
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of

ALICE = "alice@patients.example"
BOB = "bob@patients.example"
DOC = "doc1@north.example"
PIN = "2580"
COOKIE = "sclero_device"


def remember(client, email: str = ALICE, pin: str = PIN):
    """Sign in with "Remember this phone" and choose the PIN."""
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "remember": "y", "next": "/patient/plan"},
    )
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/remember-phone?next=/patient/plan")
    return client.post(r.headers["Location"], data={"pin": pin, "confirm": pin})


def come_back(client, clock, path: str = "/patient/today"):
    """The sign-in session has ended; the patient opens a page."""
    clock.advance(minutes=31)
    return client.get(path, follow_redirects=True)


def device(in_app) -> RememberedDevice:
    return in_app(lambda: db.session.scalar(sa.select(RememberedDevice)))


def events(in_app, action: str) -> list[str]:
    return in_app(
        lambda: list(
            db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == action))
        )
    )


def test_remembering_sets_a_safe_cookie_and_stores_only_hashes(client, world, in_app, clock):
    r = remember(client)
    assert r.status_code == 302 and r.headers["Location"] == "/patient/plan"
    (set_cookie,) = [c for c in r.headers.getlist("Set-Cookie") if c.startswith(COOKIE)]
    token = set_cookie.split(";")[0].split("=", 1)[1]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie
    assert f"Max-Age={30 * 24 * 3600}" in set_cookie
    row = device(in_app)
    assert len(row.token_hash) == 64 and token not in row.token_hash
    assert row.pin_hash.startswith("$argon2id$") and PIN not in row.pin_hash
    assert row.expires_at == clock.now + timedelta(days=30)
    assert events(in_app, "device_remembered")


def test_the_cookie_is_host_prefixed_and_secure_on_https(app, world):
    app.config["SESSION_COOKIE_SECURE"] = True
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # Secure cookies go over https only
    r = remember(client)
    (set_cookie,) = [c for c in r.headers.getlist("Set-Cookie") if "device" in c]
    assert set_cookie.startswith("__Host-sclero_device=") and "Secure" in set_cookie


def test_after_the_session_ends_the_pin_brings_the_patient_back(client, world, in_app, clock):
    remember(client)
    page = come_back(client, clock)
    assert page.request.path == "/login/pin" and page.headers["X-Sclero-Signed-Out"] == "1"
    text = text_of(page)
    assert "Welcome back" in text and "Use my password instead" in text
    assert "Forget this phone" in text
    assert "Alice" not in text  # no name on a page anyone holding the phone sees
    r = client.post("/login/pin?next=/patient/today", data={"pin": PIN, "next": "/patient/today"})
    assert r.status_code == 302 and r.headers["Location"] == "/patient/today"
    assert client.get("/patient/today").status_code == 200
    # A new session, with its own 12 hours; the old one stays ended.
    sessions = in_app(lambda: db.session.scalars(sa.select(AuthSession)).all())
    assert len(sessions) == 2 and sessions[-1].created_at == clock.now
    assert device(in_app).last_used_at == clock.now


def test_use_my_password_instead_shows_the_password_form(client, world, clock):
    remember(client)
    come_back(client, clock)
    page = client.get("/login?password=1")
    assert page.status_code == 200 and "Password" in text_of(page)
    assert login(client, ALICE).status_code == 302


def test_a_wrong_pin_says_how_many_tries_are_left(client, world, in_app, clock):
    remember(client)
    come_back(client, clock)
    r = client.post("/login/pin", data={"pin": "9999"})
    assert r.status_code == 401
    assert "That PIN is not right. You have 4 more tries." in text_of(r)
    html = r.get_data(as_text=True)
    assert 'aria-describedby="pin-error"' in html and 'aria-invalid="true"' in html
    assert events(in_app, "device_pin_failed") == ["4 tries left"]
    # The right PIN afterwards works and starts the count again.
    assert client.post("/login/pin", data={"pin": PIN}).status_code == 302
    assert device(in_app).failed_pins == 0


def test_five_wrong_pins_forget_the_phone(client, world, in_app, clock):
    remember(client)
    come_back(client, clock)
    for left in (4, 3, 2, 1):
        r = client.post("/login/pin", data={"pin": "0000"})
        assert r.status_code == 401 and f"You have {left} more tr" in text_of(r)
    r = client.post("/login/pin", data={"pin": "0000"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?password=1")
    assert any(c.startswith(f"{COOKIE}=;") for c in r.headers.getlist("Set-Cookie"))
    assert "too many times, so this phone has been forgotten" in text_of(client.get("/login"))
    assert device(in_app).forgotten_at == clock.now
    assert events(in_app, "device_forgotten") == ["5 wrong PINs"]
    assert len(events(in_app, "device_pin_failed")) == 5
    # Even the right PIN no longer opens anything.
    r = client.post("/login/pin", data={"pin": PIN})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert client.get("/patient/today").status_code == 302


def test_the_try_is_counted_before_the_pin_is_checked(app, world, in_app, clock):
    """Tries at the same moment cannot pass the limit: a phone at its limit is refused
    without the PIN even being checked (the count is one conditional UPDATE)."""
    client = app.test_client()
    remember(client)
    token = client.get_cookie(COOKIE).value

    def at_limit() -> None:
        db.session.execute(sa.update(RememberedDevice).values(failed_pins=5))
        db.session.commit()

    in_app(at_limit)
    with pytest.raises(devices.DeviceUnknown):
        in_app(devices.sign_in_with_pin, token, PIN, clock.now, "")


@pytest.mark.parametrize(
    ("pin", "confirm", "message"),
    [
        ("12", "12", "Use 4 to 6 numbers"),
        ("1234567", "1234567", "Use 4 to 6 numbers"),
        ("abcd", "abcd", "Use 4 to 6 numbers"),
        ("", "", "Use 4 to 6 numbers"),
        ("1234", "1234", "easy to guess"),
        ("7777", "7777", "easy to guess"),
        ("2580", "2581", "The two PINs are different"),
    ],
)
def test_a_pin_must_be_4_to_6_digits_and_not_obvious(client, world, in_app, pin, confirm, message):
    login(client, ALICE)
    r = client.post("/remember-phone", data={"pin": pin, "confirm": confirm})
    assert r.status_code == 400 and message in text_of(r)
    assert device(in_app) is None
    assert not client.get_cookie(COOKIE)


def test_staff_are_never_remembered(client, world, in_app, clock):
    r = client.post("/login", data={"email": DOC, "password": PASSWORD, "remember": "y"})
    assert r.status_code == 302 and r.headers["Location"] == "/clinic/"
    assert client.get("/remember-phone").status_code == 404
    assert client.post("/remember-phone", data={"pin": PIN, "confirm": PIN}).status_code == 404
    assert device(in_app) is None


def test_a_staff_account_behind_a_device_row_cannot_use_it(app, world, in_app, clock):
    """Even a row made some other way (a patient later made staff) opens nothing."""
    client = app.test_client()
    remember(client)

    def make_staff() -> None:
        user = db.session.scalar(sa.select(User).where(User.email == ALICE))
        user.role = "clinician"
        db.session.commit()

    in_app(make_staff)
    page = come_back(client, clock, "/login")
    assert page.request.path == "/login" and "Welcome back" not in text_of(page)


def test_choosing_a_pin_needs_a_session(client, world):
    r = client.get("/remember-phone")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_forget_this_phone(client, world, in_app, clock):
    remember(client)
    come_back(client, clock)
    r = client.post("/login/forget-phone")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?password=1")
    assert device(in_app).forgotten_at == clock.now
    assert not client.get_cookie(COOKIE)
    page = client.get("/login", follow_redirects=True)
    assert page.request.path == "/login" and "This phone is forgotten" in text_of(page)


def test_signing_out_forgets_the_phone(client, world, in_app, clock):
    remember(client)
    r = client.post("/logout")
    assert any(c.startswith(f"{COOKIE}=;") for c in r.headers.getlist("Set-Cookie"))
    assert device(in_app).forgotten_at == clock.now


def test_a_remembered_phone_runs_out_after_30_days(client, world, in_app, clock):
    remember(client)
    clock.advance(days=30, seconds=1)
    page = client.get("/patient/today", follow_redirects=True)
    assert page.request.path == "/login" and "Welcome back" not in text_of(page)
    r = client.post("/login/pin", data={"pin": PIN})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?password=1")


def test_another_person_signing_in_with_a_password_forgets_the_phone(client, world, in_app, clock):
    remember(client)
    clock.advance(minutes=31)
    r = client.post("/login?password=1", data={"email": BOB, "password": PASSWORD})
    assert r.status_code == 302
    assert any(c.startswith(f"{COOKIE}=;") for c in r.headers.getlist("Set-Cookie"))
    assert device(in_app).forgotten_at == clock.now


def test_the_same_patient_signing_in_with_a_password_keeps_the_phone(client, world, in_app, clock):
    remember(client)
    clock.advance(minutes=31)
    login(client, ALICE)
    assert client.get_cookie(COOKIE) and device(in_app).forgotten_at is None


def test_a_deactivated_account_cannot_come_back_by_pin(client, world, in_app, clock):
    remember(client)

    def deactivate() -> None:
        user = db.session.scalar(sa.select(User).where(User.email == ALICE))
        user.is_active = False
        db.session.commit()

    in_app(deactivate)
    r = client.post("/login/pin", data={"pin": PIN})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?password=1")


def test_a_password_reset_forgets_every_phone(app, client, world, in_app, clock):
    remember(client)
    remember(app.test_client())  # a second phone
    tokens: list[str] = []

    def ask() -> None:
        accounts.request_reset(ALICE, clock.now, lambda t: tokens.append(t) or "x", "")

    in_app(ask)
    new = "a brand new sentence password"
    r = app.test_client().post(f"/reset/{tokens[0]}", data={"password": new, "confirm": new})
    assert r.status_code in (302, 303)
    rows = in_app(lambda: db.session.scalars(sa.select(RememberedDevice)).all())
    assert len(rows) == 2 and all(row.forgotten_at == clock.now for row in rows)
    assert client.post("/login/pin", data={"pin": PIN}).headers["Location"].startswith("/login")


def test_a_new_sign_in_link_forgets_every_phone(app, client, world, in_app, clock):
    remember(client)

    def invite() -> str:
        user = db.session.scalar(sa.select(User).where(User.email == ALICE))
        token = accounts.issue_invitation(user, None, clock.now)
        db.session.commit()
        return token

    token = in_app(invite)
    new = "a brand new sentence password"
    app.test_client().post(f"/invite/{token}", data={"password": new, "confirm": new})
    assert device(in_app).forgotten_at == clock.now


def test_forget_devices_is_the_password_change_seam(client, world, in_app, clock):
    remember(client)
    user_id = device(in_app).user_id

    def forget() -> None:
        devices.forget_devices(user_id, clock.now)
        db.session.commit()

    in_app(forget)
    assert device(in_app).forgotten_at == clock.now
    clock.advance(minutes=31)
    r = client.post("/login/pin", data={"pin": PIN})
    assert r.headers["Location"].startswith("/login?password=1")


def test_30_wrong_pins_at_once_reach_the_pin_check_at_most_5_times(
    app, world, in_app, clock, monkeypatch
):
    client = app.test_client()
    remember(client)
    token = client.get_cookie(COOKIE).value
    checks: list[str] = []
    guard = threading.Lock()
    real_verify = devices.verify_password

    def slow_verify(stored: str, secret: str) -> bool:
        with guard:
            checks.append(secret)
        time.sleep(0.02)  # widen the window between counting and checking
        return real_verify(stored, secret)

    monkeypatch.setattr(devices, "verify_password", slow_verify)

    def attempt() -> None:
        try:
            in_app(devices.sign_in_with_pin, token, "0000", clock.now, "")
        except (devices.WrongPin, devices.DeviceUnknown):
            pass

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checks) == 5
    assert device(in_app).forgotten_at == clock.now
