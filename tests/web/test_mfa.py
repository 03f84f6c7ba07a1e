"""The staff second factor (issue 18 point 4; checklist A12, B7, A10): enrolment,
codes and their replay, the half-open pending session, recovery codes, trusted devices
and an admin's reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Clinic
from app.models import Patient
from app.models import Role
from app.models.user import MfaRecoveryCode
from app.models.user import MfaSecret
from app.models.user import TrustedDevice
from app.services import accounts
from app.services.accounts import mfa
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of

DOC = "doc1@north.example"


@pytest.fixture
def required(app):
    app.config["SCLERO_STAFF_MFA_REQUIRED"] = True
    return app


def code_for(secret: str, clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + timedelta(seconds=30 * steps))


def actions(in_app, action: str | None = None) -> list[str]:
    def read():
        query = sa.select(AuditEvent.action).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session.scalars(query))

    return in_app(read)


def enrol(client, clock):
    """On the enrolment page of a signed-in or pending staff member: read the key,
    confirm a code; returns (secret, the recovery page)."""
    page = client.get("/account/second-factor")
    assert page.status_code == 200
    found = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page.get_data(as_text=True))
    secret = found.group(1).replace(" ", "")
    done = client.post("/account/second-factor", data={"code": code_for(secret, clock)})
    return secret, done


@pytest.fixture
def enrolled(required, client, world, clock):
    """doc1 with a second factor set up; signed out afterwards; returns the secret."""
    login(client, DOC)
    secret, done = enrol(client, clock)
    assert done.status_code == 200
    client.post("/logout")
    clock.advance(seconds=30)  # the enrolment's code step is used up
    return secret


def test_required_staff_must_enrol_before_anything_else(required, client, world, clock, in_app):
    r = login(client, DOC)
    assert r.status_code == 302 and r.headers["Location"] == "/login/code"
    assert client.get("/login/code").headers["Location"] == "/account/second-factor"
    # Nothing of the clinic yet: the dashboard sends the person back to sign-in.
    blocked = client.get("/clinic/")
    assert blocked.status_code == 302 and "/login" in blocked.headers["Location"]
    page = client.get("/account/second-factor")
    assert "<svg" in page.get_data(as_text=True) and "Cannot scan?" in text_of(page)
    assert page.headers["Cache-Control"] == "no-store"
    secret, done = enrol(client, clock)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    assert len(set(codes)) == 10
    assert "shows them only once" in text_of(done)
    assert client.get("/clinic/").status_code == 200
    # The secret is sealed in the database; the codes are stored as hashes only.
    stored = in_app(lambda: db.session.scalar(sa.select(MfaSecret.secret)))
    assert secret not in stored and stored.startswith("v1:")
    hashes = in_app(lambda: list(db.session.scalars(sa.select(MfaRecoveryCode.code_hash))))
    assert len(hashes) == 10 and not any(c.replace("-", "") in hashes for c in codes)
    assert "mfa_enrolled" in actions(in_app)


def test_patients_are_not_forced_or_offered_a_second_factor(required, client, world):
    r = login(client, "alice@patients.example")
    assert r.headers["Location"] == "/patient/today"
    assert client.get("/account/second-factor").status_code == 404


def test_not_required_staff_sign_in_with_password_alone(app, client, world):
    assert login(client, DOC).headers["Location"] == "/clinic/"


def test_otpauth_uri_names_the_clinic_and_secret_is_sealed(app, world, clock, in_app):
    def run():
        app.config["SCLERO_STAFF_MFA_REQUIRED"] = True
        who = accounts.authenticate(DOC, PASSWORD, clock.now)
        assert who.mfa_pending == "enrol" and not who.is_authenticated
        secret, uri = mfa.enrolment(who, clock.now)
        clinic = db.session.get(Clinic, world.clinic1)
        assert uri.startswith("otpauth://totp/")
        assert f"issuer=ScleroCare%20{clinic.name.replace(' ', '%20')}" in uri
        assert f"secret={secret}" in uri
        # The same secret again on a reload, so a scanned phone stays right; a new one
        # once the enrolment has lain unconfirmed for over 30 minutes.
        assert mfa.enrolment(who, clock.now + timedelta(minutes=29))[0] == secret
        assert mfa.enrolment(who, clock.now + timedelta(minutes=31))[0] != secret
        secret = mfa.enrolment(who, clock.now + timedelta(minutes=31))[0]
        # Readable after a key rotation while the old key is a fallback, not after.
        sealed = db.session.get(MfaSecret, world.clinician1).secret
        app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
        app.config["SECRET_KEY"] = "a-new-key-" + "x" * 32
        assert mfa.unseal(sealed) == secret
        app.config["SECRET_KEY_FALLBACKS"] = []
        with pytest.raises(RuntimeError):
            mfa.unseal(sealed)

    in_app(run)


def test_code_after_password_and_no_replay(enrolled, client, world, clock, in_app):
    r = login(client, DOC)
    assert r.headers["Location"] == "/login/code"
    assert client.get("/clinic/").status_code == 302
    code = code_for(enrolled, clock)
    ok = client.post("/login/code", data={"code": code})
    assert ok.status_code == 303 and ok.headers["Location"] == "/clinic/"
    assert client.get("/clinic/").status_code == 200
    client.post("/logout")
    # The same code again, in its still-valid window: refused.
    login(client, DOC)
    again = client.post("/login/code", data={"code": code})
    assert again.status_code == 401 and "That code is not right" in text_of(again)
    # The next step's code (clock drift of one step) works.
    assert (
        client.post("/login/code", data={"code": code_for(enrolled, clock, 1)}).status_code == 303
    )


def test_sign_in_keeps_where_the_person_was_going(enrolled, client, world, clock):
    client.post(
        "/login?next=/clinic/patients",
        data={"email": DOC, "password": PASSWORD, "next": "/clinic/patients"},
    )
    r = client.post("/login/code", data={"code": code_for(enrolled, clock)})
    assert r.headers["Location"] == "/clinic/patients"


def test_five_wrong_codes_end_the_pending_session(enrolled, client, world, clock, in_app):
    login(client, DOC)
    for n in range(4):
        r = client.post("/login/code", data={"code": "000000" if n % 2 else "12345x"})
        assert r.status_code == 401
    last = client.post("/login/code", data={"code": "000001"})
    assert last.status_code == 303 and last.headers["Location"] == "/login"
    # Even the right code now finds no pending session: start again with the password.
    after = client.post("/login/code", data={"code": code_for(enrolled, clock)})
    assert after.headers["Location"] == "/"
    assert client.get("/clinic/").status_code == 302
    assert actions(in_app, "mfa_failed") == ["mfa_failed"] * 5
    assert actions(in_app, "mfa_locked") == ["mfa_locked"]
    revoked = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).where(
                AuthSession.user_id == world.clinician1, AuthSession.revoked_at.is_not(None)
            )
        )
    )
    assert revoked >= 1


def test_recovery_code_works_once_and_is_audited(required, client, world, clock, in_app):
    login(client, DOC)
    _, done = enrol(client, clock)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    client.post("/logout")
    login(client, DOC)
    r = client.post("/login/code", data={"code": codes[0].upper()})
    assert r.status_code == 303
    assert client.get("/clinic/").status_code == 200
    client.post("/logout")
    login(client, DOC)
    assert client.post("/login/code", data={"code": codes[0]}).status_code == 401
    assert actions(in_app, "mfa_recovery_used") == ["mfa_recovery_used"]
    # New codes replace the old ones.
    assert client.post("/login/code", data={"code": codes[1]}).status_code == 303
    new = client.post("/account/second-factor/recovery-codes")
    fresh = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", new.get_data(as_text=True))
    assert len(fresh) == 10 and new.headers["Cache-Control"] == "no-store"
    client.post("/logout")
    login(client, DOC)
    assert client.post("/login/code", data={"code": codes[2]}).status_code == 401
    assert client.post("/login/code", data={"code": fresh[0]}).status_code == 303


def test_trusted_device_skips_the_code_for_12_hours(enrolled, client, world, clock, in_app):
    login(client, DOC)
    r = client.post("/login/code", data={"code": code_for(enrolled, clock), "trust": "y"})
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("sclero_trust=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "Max-Age=43200" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = in_app(lambda: db.session.scalar(sa.select(TrustedDevice.token_hash)))
    assert token not in stored
    client.post("/logout")
    login(client, DOC)
    skip = client.get("/login/code")
    assert skip.status_code == 303 and skip.headers["Location"] == "/clinic/"
    assert client.get("/clinic/").status_code == 200
    client.post("/logout")
    # Another browser without the cookie still needs the code.
    other = client.application.test_client()
    login(other, DOC)
    assert other.get("/login/code").status_code == 200
    # After 12 hours the device must pass the code again.
    clock.advance(hours=12, seconds=1)
    login(client, DOC)
    assert client.get("/login/code").status_code == 200


def test_trust_cookie_uses_host_prefix_when_secure(enrolled, app, client, world, clock):
    app.config["SESSION_COOKIE_SECURE"] = True
    login(client, DOC)
    r = client.post("/login/code", data={"code": code_for(enrolled, clock), "trust": "y"})
    cookie = [c for c in r.headers.getlist("Set-Cookie") if "trust" in c][0]
    assert cookie.startswith("__Host-sclero_trust=") and "Secure" in cookie


def test_pending_session_is_not_signed_in_on_any_route(enrolled, app, world, clock, in_app):
    """Every GET route, with a session that passed the password but not the code, answers
    as it does to someone not signed in (checklist B7 "half-open", A12)."""

    def make_patient_pending():
        # A patient with a second factor (possible later): their pending session too.
        user_id = db.session.get(Patient, world.patient_a).user_id
        db.session.add(MfaSecret(user_id=user_id, secret="v1:x", confirmed_at=clock.now))
        db.session.commit()

    in_app(make_patient_pending)
    anonymous = app.test_client()
    doc = app.test_client()
    login(doc, DOC)
    patient = app.test_client()
    login(patient, "alice@patients.example")
    assert patient.get("/patient/today").status_code == 302  # pending too
    may_differ = {"auth.login", "auth.mfa_code", "auth.mfa_enrol"}
    markers = ("Marker-A", "Marker-B", "Doc1", "alice@patients.example", DOC)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in may_differ:
            continue
        args = {name: (world.patient_a if "id" in name else "x") for name in rule.arguments}
        try:
            url = rule.build(args, append_unknown=False)[1]
        except Exception:  # noqa: BLE001 - a converter that takes no dummy value
            continue
        expected = anonymous.get(url).status_code
        for who in (doc, patient):
            r = who.get(url)
            assert r.status_code == expected, (url, r.status_code, expected)
            if r.status_code == 200:
                body = r.get_data(as_text=True)
                assert not any(m in body for m in markers), url
        checked += 1
    assert checked > 40
    # Once the code passes, the same session reads the clinic: the walk could see data.
    assert doc.post("/login/code", data={"code": code_for(enrolled, clock)}).status_code == 303
    assert doc.get("/clinic/").status_code == 200


def test_admin_resets_a_clinicians_second_factor(enrolled, client, world, clock, in_app):
    def add_admin():
        return make_staff(
            db.session.get(Clinic, world.clinic1), "boss@north.example", Role.CLINIC_ADMIN
        ).id

    in_app(add_admin)
    doc = client.application.test_client()
    login(doc, DOC)
    doc.post("/login/code", data={"code": code_for(enrolled, clock)})
    assert doc.get("/clinic/").status_code == 200
    boss = client
    login(boss, "boss@north.example")
    enrol(boss, clock)  # required for the admin too
    staff = boss.get("/clinic/staff")
    assert "Sign-in code: set up" in text_of(staff) and "Reset sign-in code of Doc1" in text_of(
        staff
    )
    r = boss.post(f"/clinic/staff/{world.clinician1}/second-factor/reset")
    assert r.status_code == 303
    assert "Doc1's sign-in code is reset" in text_of(boss.get(r.headers["Location"]))
    assert "staff_mfa_reset" in actions(in_app)
    assert in_app(lambda: db.session.get(MfaSecret, world.clinician1)) is None
    # The clinician's session ended; at the next sign-in they enrol again.
    assert doc.get("/clinic/").status_code == 302
    login(doc, DOC)
    assert doc.get("/login/code").headers["Location"] == "/account/second-factor"


def test_reset_is_for_admins_of_the_same_clinic_only(required, client, world, clock, in_app):
    def add_admin():
        return make_staff(
            db.session.get(Clinic, world.clinic1), "boss@north.example", Role.CLINIC_ADMIN
        ).id

    in_app(add_admin)
    login(client, DOC)
    enrol(client, clock)
    # A clinician (not an admin) gets 404.
    assert client.post(f"/clinic/staff/{world.clinician1}/second-factor/reset").status_code == 404
    client.post("/logout")
    login(client, "boss@north.example")
    enrol(client, clock)
    # Another clinic's clinician, or a patient: not found, and the refusal is audited.
    assert client.post(f"/clinic/staff/{world.clinician2}/second-factor/reset").status_code == 404
    assert client.post("/clinic/staff/999999/second-factor/reset").status_code == 404
    # The clinician's forged reset is audited too (an adversarial test found it was not).
    assert actions(in_app, "refused") == ["refused", "refused", "refused"]
    assert "staff_mfa_reset" not in actions(in_app)


def test_cancel_ends_the_pending_session(enrolled, client, world, in_app):
    login(client, DOC)
    r = client.post("/login/code/cancel")
    assert r.headers["Location"] == "/login"
    live = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).where(
                AuthSession.user_id == world.clinician1, AuthSession.revoked_at.is_(None)
            )
        )
    )
    assert live == 0


def test_invited_staff_enrol_after_choosing_a_password(required, client, world, clock, in_app):
    def invite():
        user = make_staff(db.session.get(Clinic, world.clinic1), "new@north.example")
        user.password_hash = None
        token = accounts.issue_invitation(user, None, clock.now)
        db.session.commit()
        return token

    token = in_app(invite)
    r = client.post(
        f"/invite/{token}",
        data={"password": "a long new password!", "confirm": "a long new password!"},
    )
    assert r.status_code == 302
    # The invitation's page sends them on; before the clinic comes the second factor.
    follow = client.get(r.headers["Location"])
    assert follow.status_code == 302 and "/login" in follow.headers["Location"]
    assert client.get("/login").headers["Location"] == "/login/code"
    assert client.get("/login/code").headers["Location"] == "/account/second-factor"


def test_new_password_by_link_forgets_trusted_devices(enrolled, client, world, clock, in_app):
    from app.models import User
    from app.services.accounts.sessions import revoke_all

    login(client, DOC)
    client.post("/login/code", data={"code": code_for(enrolled, clock), "trust": "y"})
    count = sa.select(sa.func.count(TrustedDevice.id))
    assert in_app(lambda: db.session.scalar(count)) == 1

    def new_password_elsewhere():
        # What a reset link, a new sign-in link and deactivation do (revoke_all).
        revoke_all(db.session.get(User, world.clinician1), clock.now)
        db.session.commit()

    in_app(new_password_elsewhere)
    assert in_app(lambda: db.session.scalar(count)) == 0
    login(client, DOC)
    assert client.get("/login/code").status_code == 200


@pytest.mark.parametrize("odd", ["١٢٣٤٥٦", "12 34 56 78", "x" * 32, "ﬀ-ﬀ-ﬀ-ﬀ-ﬀ", "-" * 10])
def test_odd_codes_are_refused_not_errors(enrolled, client, world, odd):
    login(client, DOC)
    r = client.post("/login/code", data={"code": odd})
    assert r.status_code in (400, 401)
