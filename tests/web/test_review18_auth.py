"""Review of issue 18's sign-in, second factor, password change and remembered phone,
tried as an attacker would (review R1). Each test here failed before its fix.

Concurrency tests run on the suite's database: SQLite by default, PostgreSQL with
TEST_DATABASE_URL.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from app.models import User
from app.models.user import MfaRecoveryCode
from app.models.user import MfaSecret
from app.services import accounts
from app.services.accounts import mfa
from app.services.accounts.sessions import open_session
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_mfa import code_for
from tests.web.test_mfa import enrol
from tests.web.test_remembered_device import PIN
from tests.web.test_remembered_device import remember

DOC = "doc1@north.example"
ALICE = "alice@patients.example"
NEW = "a brand new sentence password"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def _no_per_address_limit(app):
    """These tests count per-account limits; the per-address limit, which the test
    client's 127.0.0.1 meets first, is tested in test_rate_limits.py."""
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = True


@pytest.fixture
def required(app):
    app.config["SCLERO_STAFF_MFA_REQUIRED"] = True
    return app


@pytest.fixture
def enrolled(required, client, world, clock):
    """doc1 with a second factor set up; signed out afterwards; returns the secret."""
    login(client, DOC)
    secret, done = enrol(client, clock)
    assert done.status_code == 200
    client.post("/logout")
    clock.advance(seconds=30)
    return secret


def _pending_principal(in_app, clock, email: str = DOC):
    """A fresh sign-in session that owes its code, read back as a request reads it."""

    def make():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        token = open_session(user, clock.now)
        db.session.commit()
        return accounts.user_for_session(token, clock.now)

    return in_app(make)


def _race(n: int, work) -> list[str]:  # noqa: ANN001 - a callable taking the thread's index
    """Run ``work(i)`` in ``n`` threads released together; their outcomes' names."""
    start = threading.Barrier(n)
    outcomes: list[str] = []
    guard = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - the kind of failure is the outcome
            outcome = type(exc).__name__
        with guard:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _counting(monkeypatch, module, name: str, pause: float) -> list[int]:  # noqa: ANN001
    calls: list[int] = []
    guard = threading.Lock()
    real = getattr(module, name)

    def counted(*args):  # noqa: ANN002, ANN202
        with guard:
            calls.append(1)
        time.sleep(pause)  # widens the gap a read-then-write counter leaves open
        return real(*args)

    monkeypatch.setattr(module, name, counted)
    return calls


# --- the second factor ----------------------------------------------------------------


def test_new_sign_ins_do_not_buy_fresh_guesses_at_the_code(enrolled, client, clock):
    """Whoever has the password could sign in again after each 5 wrong codes and keep
    guessing: 10^6 codes, 3 accepted at a time, 5 guesses per password sign-in. Wrong
    codes are counted per account too, so after 10 in the window even the right code
    is refused until the window ends."""
    for _ in range(2):
        assert login(client, DOC).headers["Location"] == "/login/code"
        for _ in range(5):
            client.post("/login/code", data={"code": "000000"})
    assert login(client, DOC).headers["Location"] == "/login/code"
    refused = client.post("/login/code", data={"code": code_for(enrolled, clock)})
    assert refused.headers["Location"] == "/login"
    assert "Please wait 15 minutes" in text_of(client.get("/login"))
    assert client.get("/clinic/").status_code == 302  # not signed in
    clock.advance(minutes=16)
    assert login(client, DOC).headers["Location"] == "/login/code"
    done = client.post("/login/code", data={"code": code_for(enrolled, clock)})
    assert done.status_code == 303 and done.headers["Location"] == "/clinic/"


def test_thirty_concurrent_wrong_codes_reach_the_check_five_times(
    enrolled, app, clock, in_app, monkeypatch
):
    """One pending session, 30 guesses at once (as on many workers): each is counted
    before it is checked, so no more than the session's 5 reach the check."""
    who = _pending_principal(in_app, clock)
    calls = _counting(monkeypatch, mfa, "matching_step", pause=0.05)

    def guess(i: int) -> None:
        in_app(mfa.pass_second_factor, who, f"{i:06d}", clock.now, f"192.0.2.{i}")

    outcomes = _race(30, guess)
    assert "ok" not in outcomes and set(outcomes) <= {"Invalid", "SecondFactorLocked"}, outcomes
    assert len(calls) <= 5
    revoked = in_app(lambda: db.session.get(AuthSession, who.session_id).revoked_at)
    assert revoked is not None


def test_racing_enrolment_confirmations_give_one_set_of_recovery_codes(
    required, client, world, clock, in_app, monkeypatch
):
    """Two submissions of the same first code at once (a double tap on a slow phone):
    one turns the second factor on; the other is refused, so the recovery codes the
    person writes down are the ones that work."""
    login(client, DOC)
    client.get("/account/second-factor")
    secret = in_app(lambda: mfa.unseal(db.session.scalar(sa.select(MfaSecret.secret))))
    who = in_app(accounts.user_for_session, _token_of(client), clock.now)
    _counting(monkeypatch, mfa, "matching_step", pause=0.1)
    shown: list[list[str]] = []

    def confirm(i: int) -> None:
        shown.append(in_app(mfa.confirm_enrolment, who, code_for(secret, clock), clock.now, ""))

    outcomes = _race(2, confirm)
    assert sorted(outcomes) == ["Invalid", "ok"], outcomes
    stored = in_app(lambda: set(db.session.scalars(sa.select(MfaRecoveryCode.code_hash)).all()))
    assert stored == {mfa._code_hash(c) for c in shown[0]}


def _token_of(client) -> str:
    """The sign-in token in the test client's session cookie."""
    with client.session_transaction() as session:
        return session["_user_id"]


# --- changing the password --------------------------------------------------------------


def test_a_password_change_forgets_the_remembered_phones(app, client, world, clock):
    """Someone who knew the old password remembered their own phone with a PIN of their
    choosing. The owner changes the password: that phone must need the new password,
    not let its PIN open a fresh session."""
    thief = app.test_client()
    remember(thief)
    owner = app.test_client()
    assert login(owner, ALICE).status_code == 302
    changed = owner.post(
        "/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW}
    )
    assert changed.status_code == 303
    back = thief.post("/login/pin", data={"pin": PIN})
    assert back.headers["Location"].startswith("/login?password=1")
    assert thief.get("/patient/today").status_code == 302


def test_wrong_current_passwords_are_limited(app, client, world, clock, in_app, monkeypatch):
    """A session left open (or a stolen session cookie) must not become unlimited
    guesses at the password: after 10 wrong current passwords in the window even the
    right one is refused, without reaching the verifier."""
    from app.services.accounts import password_change

    assert login(client, ALICE).status_code == 302
    calls = _counting(monkeypatch, password_change, "verify_password", pause=0)
    for i in range(10):
        wrong = client.post(
            "/account/password",
            data={"current": f"guess number {i}", "password": NEW, "confirm": NEW},
        )
        assert wrong.status_code == 400
    assert len(calls) == 10
    refused = client.post(
        "/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW}
    )
    assert refused.status_code == 400
    assert "Too many" in text_of(refused)
    assert len(calls) == 10
    clock.advance(minutes=10)  # still signed in (busy elsewhere on the page)
    client.get("/patient/today")
    clock.advance(minutes=6)
    done = client.post(
        "/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW}
    )
    assert done.status_code == 303


# --- lifetimes across a change of summer time --------------------------------------------


def _pin_london(clock, instant: datetime) -> None:
    """Pin the app's clock to ``instant`` written as London local time (as a test, a
    debugging session or a clinic's machine might give it)."""
    clock.now = instant.astimezone(LONDON)


def test_twelve_hours_are_twelve_real_hours_across_the_autumn_change(enrolled, client, clock):
    """Europe/London goes back an hour at 01:00 UTC on the last Sunday of October. With
    the clock pinned as London time, "trusted for 12 hours" was computed as 12 hours of
    wall clock, 13 real hours. Sessions, trust and the phone all count real time."""
    start = datetime(2027, 10, 30, 23, 30, tzinfo=UTC)  # 00:30 BST, before the change
    _pin_london(clock, start)
    assert login(client, DOC).headers["Location"] == "/login/code"
    done = client.post("/login/code", data={"code": code_for(enrolled, clock), "trust": "y"})
    assert done.status_code == 303
    at = start
    for _ in range(47):  # busy all night: a page every 15 minutes, 11 h 45 in all
        at += timedelta(minutes=15)
        _pin_london(clock, at)
        assert client.get("/clinic/").status_code == 200
    _pin_london(clock, start + timedelta(hours=12, minutes=1))
    assert client.get("/clinic/").status_code == 302  # the absolute limit, in real time
    assert login(client, DOC).headers["Location"] == "/login/code"
    asked = client.get("/login/code")  # the 12 trusted hours are over too
    assert asked.status_code == 200


def test_two_enrolment_pages_at_once_show_the_same_secret(
    required, client, world, clock, in_app, monkeypatch
):
    """The enrolment page loaded twice at the same moment (a prefetch and the real load,
    or a double tap): both create the secret. One was a 500 (the second INSERT of the
    account's row); both must show the one secret that will be checked."""
    login(client, DOC)
    who = in_app(accounts.user_for_session, _token_of(client), clock.now)
    _counting(monkeypatch, mfa, "seal", pause=0.1)  # both read "no row" before adding one
    shown: list[str] = []

    def load(i: int) -> None:
        shown.append(in_app(mfa.enrolment, who, clock.now)[0])

    outcomes = _race(2, load)
    assert outcomes == ["ok", "ok"], outcomes
    stored = in_app(lambda: mfa.unseal(db.session.scalar(sa.select(MfaSecret.secret))))
    assert shown == [stored, stored]


# --- the remembered phone ---------------------------------------------------------------


def test_a_phone_can_be_remembered_only_just_after_signing_in(client, world, clock, in_app):
    """Someone with a copy of a patient's session cookie could open /remember-phone and
    choose their own PIN: 30 days of access after the copied session has ended. The
    page is offered right after the password; later it asks for a fresh sign-in."""
    from app.models import RememberedDevice

    assert login(client, ALICE).status_code == 302
    for _ in range(4):  # busy on the app for 16 minutes: the session is still live
        clock.advance(minutes=4)
        assert client.get("/patient/today").status_code == 200
    late = client.post("/remember-phone", data={"pin": PIN, "confirm": PIN})
    assert late.status_code == 400
    assert "sign in again with your password" in text_of(late)
    assert in_app(lambda: db.session.scalar(sa.select(RememberedDevice.id))) is None
    client.post("/logout")
    assert remember(client).status_code == 302  # a fresh sign-in may


def test_signing_in_over_another_persons_session_ends_it(app, client, world, clock):
    """A shared phone: Bob signs in while Alice's session is still open in the browser.
    Her session was only dropped from the cookie and stayed live on the server, so a
    copy of her cookie still opened her pages."""
    assert login(client, ALICE).status_code == 302
    alices = client.get_cookie("session").value
    assert login(client, "bob@patients.example").status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", alices)
    assert copy.get("/patient/today").status_code == 302
    assert client.get("/patient/today").status_code == 200  # Bob is signed in


def test_accepting_an_invitation_over_another_persons_session_ends_it(app, client, world, clock):
    """The same on the invitation page: Bob opens his link on the phone Alice is
    signed in on."""
    from tests.web.test_auth import _invite

    assert login(client, ALICE).status_code == 302
    alices = client.get_cookie("session").value
    token = _invite(app, "bob@patients.example")
    done = client.post(f"/invite/{token}", data={"password": NEW, "confirm": NEW})
    assert done.status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", alices)
    assert copy.get("/patient/today").status_code == 302
    assert client.get("/patient/today").status_code == 200  # Bob is signed in


def test_signing_in_again_on_ones_own_phone_keeps_its_reminders(
    client, world, in_app, push_service
):
    """The replaced session ends, but the same person's push device moves to the new
    one: signing in again must not silently stop a phone's reminders (CI found the
    devices deleted with the old session)."""
    from app.models import PushSubscription

    fake = push_service.new_subscription()
    login(client, "alice@patients.example")
    r = client.post("/patient/reminders/subscribe", json={"subscription": fake.info()})
    assert r.status_code == 200
    login(client, "alice@patients.example")  # again, on the same browser

    def devices():
        rows = db.session.execute(
            sa.select(PushSubscription.auth_session_id, AuthSession.revoked_at).join(
                AuthSession, AuthSession.id == PushSubscription.auth_session_id
            )
        ).all()
        return [revoked is None for _, revoked in rows]

    assert in_app(devices) == [True]  # kept, on the live session
    login(client, "bob@patients.example")  # another person on this phone
    assert in_app(devices) == []
