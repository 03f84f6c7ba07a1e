"""The clinic admin's staff pages (issue 17 point 2): who may see them, inviting staff,
roles, deactivation ending every session at once, reactivation and new sign-in links."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Clinic
from app.models import OutboxMessage
from app.models import PushSubscription
from app.models import Role
from app.models import User
from app.services.notify import dispatch
from tests.conftest import NOW
from tests.conftest import PASSWORD
from tests.conftest import add_staff_device
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.web.test_email_pages import NoPush

NEW_PASSWORD = "a new long passphrase 42"


def _admin(in_app, world, email="admin@north.example", clinic="clinic1") -> int:
    return in_app(
        lambda: (
            make_staff(db.session.get(Clinic, getattr(world, clinic)), email, Role.CLINIC_ADMIN).id
        )
    )


@pytest.fixture
def admin(app, in_app, world):
    """A signed-in client of clinic 1's admin (and the admin's id as ``.user_id``)."""
    user_id = _admin(in_app, world)
    client = app.test_client()
    assert login(client, "admin@north.example").status_code == 302
    client.user_id = user_id
    return client


def _user(in_app, email: str) -> User:
    def load():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge(user)
        return user

    return in_app(load)


def _audit(in_app) -> list[str]:
    return in_app(
        lambda: [
            f"{e.action}: {e.detail}"
            for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]
    )


def _link(response) -> str:
    html = response.get_data(as_text=True)
    match = re.search(r'<textarea id="staff-link"[^>]*>(http[^<]+)</textarea>', html)
    assert match, "no link on the page"
    return match.group(1)


# ------------------------------------------------------------------ who may see it


def test_clinician_and_patient_get_404_and_no_nav_link(app, world):
    clinician = app.test_client()
    login(clinician, "doc1@north.example")
    assert clinician.get("/clinic/staff").status_code == 404
    assert clinician.post(f"/clinic/staff/{world.clinician1}/deactivate").status_code == 404
    assert "/clinic/staff" not in clinician.get("/clinic/").get_data(as_text=True)
    patient = app.test_client()
    login(patient, "alice@patients.example")
    assert patient.get("/clinic/staff").status_code == 404


def test_admin_lists_own_clinic_staff_only_with_last_sign_in(admin, world, clock):
    page = admin.get("/clinic/staff")
    assert page.status_code == 200
    text = text_of(page)
    assert "doc1@north.example" in text and "admin@north.example" in text
    assert "doc2@south.example" not in text  # another clinic's staff
    assert "alice@patients.example" not in text  # patients are not staff
    # The admin signed in at the pinned clock (Fri 20 Nov 2026 12:00 UTC, London).
    assert "last signed in Fri 20 Nov 2026, 12:00" in text
    assert 'href="/clinic/staff"' in admin.get("/clinic/").get_data(as_text=True)


def test_another_clinics_staff_answer_404_and_are_audited(admin, world, in_app):
    for action in ("role", "deactivate", "reactivate", "link"):
        r = admin.post(f"/clinic/staff/{world.clinician2}/{action}", data={"role": "clinician"})
        assert r.status_code == 404, action
    # A patient's account is no member of staff either, even in the admin's own clinic.
    alice = _user(in_app, "alice@patients.example")
    assert admin.post(f"/clinic/staff/{alice.id}/deactivate").status_code == 404
    assert _user(in_app, "doc2@south.example").is_active
    assert _user(in_app, "alice@patients.example").is_active
    refused = [e for e in _audit(in_app) if e.startswith("refused")]
    assert len(refused) == 5


# ------------------------------------------------------------------ inviting


def test_invite_a_clinician_who_accepts_and_lands_on_the_dashboard(app, admin, in_app):
    r = admin.post(
        "/clinic/staff",
        data={"name": "Nia Nurse", "email": " Nia@North.example ", "role": "clinician"},
    )
    assert r.status_code == 200
    link = _link(r)
    assert link.startswith("http://localhost/invite/")
    html = r.get_data(as_text=True)
    assert "<svg" in html and 'class="qr-code"' in html  # the QR code, inline
    assert 'data-copy-target="staff-link"' in html
    nia = _user(in_app, "nia@north.example")
    assert (nia.role, nia.password_hash, nia.is_active) == (Role.CLINICIAN, None, True)
    assert "invite staff: nia@north.example as clinician" in _audit(in_app)
    # She cannot sign in before setting a password.
    assert login(app.test_client(), "nia@north.example").status_code == 401

    guest = app.test_client()
    path = link.removeprefix("http://localhost")
    page = guest.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "patients and alerts" in text_of(page)
    done = guest.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/clinic/"
    assert guest.get("/clinic/").status_code == 200
    # The link works once.
    assert app.test_client().get(path).status_code == 410


def test_invite_an_admin(admin, in_app):
    r = admin.post(
        "/clinic/staff",
        data={"name": "Ada Admin", "email": "ada@north.example", "role": "clinic_admin"},
    )
    assert r.status_code == 200
    assert _user(in_app, "ada@north.example").role == Role.CLINIC_ADMIN


def test_inviting_twice_makes_a_fresh_link_and_retires_the_first(app, admin, in_app):
    data = {"name": "Nia Nurse", "email": "nia@north.example", "role": "clinician"}
    first = _link(admin.post("/clinic/staff", data=data))
    second = _link(admin.post("/clinic/staff", data=data))
    assert first != second
    assert app.test_client().get(first.removeprefix("http://localhost")).status_code == 410
    assert app.test_client().get(second.removeprefix("http://localhost")).status_code == 200
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count(User.id)).where(User.email == "nia@north.example")
            )
        )
        == 1
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"name": "", "email": "x@north.example", "role": "clinician"},
            "name",
            "Enter the person's name",
        ),
        (
            {"name": "X" * 5000, "email": "x@north.example", "role": "clinician"},
            "name",
            "at most 120",
        ),
        (
            {"name": "Nia", "email": "not an email", "role": "clinician"},
            "email",
            "like name@example.com",
        ),
        (
            {"name": "Nia", "email": "x\ny@north.example", "role": "clinician"},
            "email",
            "like name@example.com",
        ),
        (
            {"name": "Nia", "email": "a@" + "b" * 300 + ".example", "role": "clinician"},
            "email",
            "at most 254",
        ),
        (
            {"name": "Nia", "email": "x@north.example", "role": "patient"},
            "role",
            "clinician or clinic admin",
        ),
        (
            {"name": "Nia", "email": "alice@patients.example", "role": "clinician"},
            "email",
            "already an account",
        ),
        (
            {"name": "Nia", "email": "DOC2@south.example", "role": "clinician"},
            "email",
            "already an account",
        ),
    ],
)
def test_bad_invitations_say_why_on_the_field_and_keep_what_was_typed(
    admin, in_app, data, field, message
):
    r = admin.post("/clinic/staff", data=data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert message in text_of(r)
    assert f'id="{field}-error"' in html
    if field == "name" and data["name"]:
        assert ('value="' + data["name"]) in html
    if data["email"] == "not an email":
        assert 'value="not an email"' in html
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count(User.id)).where(User.email == "x@north.example")
            )
        )
        == 0
    )
    # The other clinic's clinician and the patient stay as they were.
    assert (
        _user(in_app, "doc2@south.example").clinic_id
        != _user(in_app, "doc1@north.example").clinic_id
    )


def test_odd_bytes_in_an_invitation_are_a_message_not_a_500(admin, in_app):
    body = b"name=N%00ia%ED%A0%80&email=nia%40north.example&role=%ED%A0%80%FF"
    r = admin.post("/clinic/staff", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    # Bytes that are not UTF-8 (a lone surrogate, 0xFF): the body cannot be read, and
    # the page says so rather than guessing at a field (app/textinput.py FormParser).
    assert "We could not read what you sent" in text_of(r)
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count(User.id)).where(User.email == "nia@north.example")
            )
        )
        == 0
    )


def test_email_it_sends_the_link_shown_on_screen(admin, app, client, in_app, smtp_server):
    # The invitation goes through the outbox to a real SMTP server on loopback; the
    # emailed link is the one on the page, it works, and the row forgets it once sent.
    r = admin.post(
        "/clinic/staff",
        data={"name": "Nia", "email": "nia@north.example", "role": "clinician", "email_it": "y"},
    )
    assert r.status_code == 200
    link = _link(r)
    assert "on its way to nia@north.example" in text_of(r)
    # Not ticked: nothing is queued for Ola.
    admin.post(
        "/clinic/staff", data={"name": "Ola", "email": "ola@north.example", "role": "clinician"}
    )
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    (mail,) = smtp_server.to("nia@north.example")
    assert link in links_in(mail)
    assert smtp_server.to("ola@north.example") == []
    assert in_app(lambda: db.session.scalar(sa.select(OutboxMessage.secret))) is None
    assert client.get(link.removeprefix("http://localhost")).status_code == 200


def test_a_new_sign_in_link_can_be_emailed(admin, world, in_app, smtp_server):
    r = admin.post(f"/clinic/staff/{world.clinician1}/link", data={"email_it": "y"})
    assert r.status_code == 200
    link = _link(r)
    assert link.startswith("http://localhost/invite/")
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    # Two emails: the link, and (issue 18) the notice that a link was made, with none.
    with_link = [m for m in smtp_server.to("doc1@north.example") if links_in(m)]
    (mail,) = with_link
    assert link in links_in(mail)


def test_links_follow_the_configured_address_not_the_request(admin, app, world):
    # The request reached the app as http://localhost; the link must not: patients open
    # it from wherever the clinic serves the app, path prefix included.
    app.config["SCLERO_BASE_URL"] = "https://care.north.example/care"
    r = admin.post(f"/clinic/staff/{world.clinician1}/link")
    assert r.status_code == 200
    assert _link(r).startswith("https://care.north.example/care/invite/")
    assert "http://localhost/invite/" not in r.get_data(as_text=True)


# ------------------------------------------------------------------ roles


def test_change_role_both_ways_audited_with_before_and_after(admin, world, in_app):
    r = admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": "clinic_admin"})
    assert r.status_code == 303
    assert _user(in_app, "doc1@north.example").role == Role.CLINIC_ADMIN
    admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": "clinician"})
    assert _user(in_app, "doc1@north.example").role == Role.CLINICIAN
    log = _audit(in_app)
    assert "change: role of doc1@north.example: clinician -> clinic_admin" in log
    assert "change: role of doc1@north.example: clinic_admin -> clinician" in log
    # The same role again changes nothing and records nothing (a double submit).
    admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": "clinician"})
    assert len(_audit(in_app)) == len(log)


def test_an_admin_cannot_demote_themself(admin, in_app):
    # Even with another admin present: ask them instead.
    r = admin.post(f"/clinic/staff/{admin.user_id}/role", data={"role": "clinician"})
    assert r.status_code == 400
    assert "cannot remove your own admin role" in text_of(r)
    assert _user(in_app, "admin@north.example").role == Role.CLINIC_ADMIN


def test_the_last_active_admin_stays(app, admin, world, in_app):
    """Two admins: the second demotes the first; then the second can be neither
    demoted nor deactivated by anyone, since they are the last one."""
    second = _admin(in_app, world, "boss@north.example")
    boss = app.test_client()
    login(boss, "boss@north.example")
    assert (
        boss.post(f"/clinic/staff/{admin.user_id}/role", data={"role": "clinician"}).status_code
        == 303
    )
    # The demoted admin is no admin any more: 404 on the staff pages at once.
    assert admin.get("/clinic/staff").status_code == 404
    # A deactivated admin does not count either.
    assert (
        boss.post(f"/clinic/staff/{admin.user_id}/role", data={"role": "clinic_admin"}).status_code
        == 303
    )
    assert boss.post(f"/clinic/staff/{admin.user_id}/deactivate").status_code == 303
    r = boss.post(f"/clinic/staff/{second}/deactivate")
    assert r.status_code == 400 and "cannot deactivate your own account" in text_of(r)
    assert _user(in_app, "boss@north.example").is_active


def test_keep_an_admin_counts_only_active_admins(app, in_app, world):
    from app.principal import ClinicInfo
    from app.principal import Principal
    from app.services.accounts import staff_changes
    from app.services.errors import Invalid

    one = _admin(in_app, world, "one@north.example")
    two = _admin(in_app, world, "two@north.example")

    def principal(user_id):
        user = db.session.get(User, user_id)
        clinic = ClinicInfo(user.clinic_id, "", "", "", "", "", "Europe/London")
        return Principal(user.id, user.email, user.name, user.role, clinic, None, 0, "")

    def run():
        staff_changes.deactivate(principal(one), two, NOW, "test")
        with pytest.raises(Invalid) as exc:
            staff_changes._keep_an_admin(db.session.get(User, one))
        return exc.value

    err = in_app(run)
    # "two" is deactivated, so "one" is the only active admin: losing them is refused.
    # (A deactivated admin calling the service is refused before this rule, as no admin:
    # tests/web/test_review17b_staff.py.)
    assert "at least one active clinic admin" in err.message


# ------------------------------------------------------------------ deactivating


def test_deactivate_ends_every_session_at_once_and_blocks_sign_in(app, admin, world, in_app):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, "doc1@north.example")
    login(laptop, "doc1@north.example")
    assert phone.get("/clinic/").status_code == 200

    in_app(add_staff_device, world.clinician1, "https://fcm.googleapis.com/fcm/send/doc1")
    r = admin.post(f"/clinic/staff/{world.clinician1}/deactivate")
    assert r.status_code == 303
    # The very next request of each open session is signed out.
    for client in (phone, laptop):
        nxt = client.get("/clinic/")
        assert nxt.status_code == 302 and nxt.headers["Location"].startswith("/login")
    assert login(app.test_client(), "doc1@north.example").status_code == 401
    live = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count(AuthSession.id)).where(
                AuthSession.user_id == world.clinician1, AuthSession.revoked_at.is_(None)
            )
        )
    )
    assert live == 0
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(PushSubscription.id)))) == 0
    assert "change: doc1@north.example: active -> deactivated" in _audit(in_app)
    assert "Deactivated" in text_of(admin.get("/clinic/staff"))
    # No new link for a deactivated account.
    r = admin.post(f"/clinic/staff/{world.clinician1}/link")
    assert r.status_code == 400 and "Reactivate this account first" in text_of(r)


def test_a_pending_invitation_dies_with_deactivation(app, admin, in_app):
    r = admin.post(
        "/clinic/staff", data={"name": "Nia", "email": "nia@north.example", "role": "clinician"}
    )
    path = _link(r).removeprefix("http://localhost")
    nia = _user(in_app, "nia@north.example")
    admin.post(f"/clinic/staff/{nia.id}/deactivate")
    assert app.test_client().get(path).status_code == 410
    admin.post(f"/clinic/staff/{nia.id}/reactivate")
    # Reactivating does not bring the old link back.
    assert app.test_client().get(path).status_code == 410


def test_an_emailed_link_still_waiting_is_not_sent_after_deactivation(
    app, admin, in_app, smtp_server
):
    r = admin.post(
        "/clinic/staff",
        data={"name": "Nia", "email": "nia@north.example", "role": "clinician", "email_it": "y"},
    )
    assert r.status_code == 200
    nia = _user(in_app, "nia@north.example")
    admin.post(f"/clinic/staff/{nia.id}/deactivate")
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    assert smtp_server.to("nia@north.example") == []
    row = in_app(
        lambda: db.session.execute(
            sa.select(OutboxMessage.state, OutboxMessage.secret).where(
                OutboxMessage.recipient_user_id == nia.id
            )
        ).one()
    )
    assert (row.state.value, row.secret) == ("cancelled", None)


def test_reactivate_lets_them_sign_in_again_but_old_cookies_stay_dead(app, admin, world, in_app):
    old = app.test_client()
    login(old, "doc1@north.example")
    admin.post(f"/clinic/staff/{world.clinician1}/deactivate")
    r = admin.post(f"/clinic/staff/{world.clinician1}/reactivate")
    assert r.status_code == 303
    assert _user(in_app, "doc1@north.example").is_active
    assert old.get("/clinic/").status_code == 302  # revoked, not just paused
    assert login(app.test_client(), "doc1@north.example").status_code == 302
    assert "change: doc1@north.example: deactivated -> active" in _audit(in_app)


# ------------------------------------------------------------------ new sign-in links


def test_new_sign_in_link_replaces_password_and_ends_other_sessions(app, admin, world, in_app):
    other = app.test_client()
    login(other, "doc1@north.example")
    r = admin.post(f"/clinic/staff/{world.clinician1}/link")
    assert r.status_code == 200
    assert "New sign-in link for" in text_of(r)
    path = _link(r).removeprefix("http://localhost")
    guest = app.test_client()
    assert "replaces your old password" in text_of(guest.get(path))
    done = guest.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.headers["Location"] == "/clinic/"
    assert other.get("/clinic/").status_code == 302
    assert login(app.test_client(), "doc1@north.example", PASSWORD).status_code == 401
    assert login(app.test_client(), "doc1@north.example", NEW_PASSWORD).status_code == 302
    assert "staff link: new signin link for doc1@north.example" in _audit(in_app)
