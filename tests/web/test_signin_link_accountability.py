"""Sign-in links for existing accounts are an accountable act (issue 18 point 2).

A link for an account that already has a password replaces it and ends the account's
sessions when used: only a clinic admin may make one (a clinician who is not an admin
sees no button, and a forged POST is 404 and audited as refused). A patient who never
set a password may be sent their invitation again by any clinician. Either way it is
audited, and the person is told: by an email with no link and no health details when
the link is made, and once on their start page after it was used.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Invitation
from app.models import OutboxMessage
from app.models import Patient
from app.models import Role
from app.models import User
from app.services.notify import dispatch
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.smtp_double import text_of as mail_text
from tests.web.test_email_pages import NoPush

ADMIN = "admin@north.example"
ALICE = "alice@patients.example"
NEW_PASSWORD = "a brand new long passphrase 7"
BUTTON = "Send a new sign-in link"
NOTICE = "Your password was changed on 20 November 2026 using a link from your clinic."
# Words of patient A's health record that must never be in a notice email.
HEALTH_WORDS = ("calf", "Polidocanol", "liquid", "compression", "day 3", "bruis", "treat")


def sign_in_admin(client, in_app, world) -> None:  # noqa: ANN001
    """Add clinic 1's admin and sign ``client`` in as them (a patient's new sign-in
    link is theirs to make: other test files use this too)."""
    in_app(lambda: make_staff(db.session.get(Clinic, world.clinic1), ADMIN, Role.CLINIC_ADMIN))
    assert login(client, ADMIN).status_code == 302


@pytest.fixture
def admin(app, in_app, world):
    client = app.test_client()
    sign_in_admin(client, in_app, world)
    return client


@pytest.fixture
def doc(app, world):
    client = app.test_client()
    assert login(client, "doc1@north.example").status_code == 302
    return client


def _events(in_app, patient_id: int | None = None) -> list[str]:
    def read() -> list[str]:
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if patient_id is not None:
            query = query.where(AuditEvent.patient_id == patient_id)
        return [f"{e.actor_name}|{e.action}: {e.detail}" for e in db.session.scalars(query)]

    return in_app(read)


def _invitations(in_app, user_email: str) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Invitation)
            .join(User, User.id == Invitation.user_id)
            .where(User.email == user_email)
        )
    )


def _outbox_kinds(in_app) -> list[str]:
    return in_app(lambda: db.session.scalars(sa.select(OutboxMessage.kind)).all())


def _token(response) -> str:
    match = re.search(r"/invite/([A-Za-z0-9_-]{40,})", response.get_data(as_text=True))
    assert match, "no link on the page"
    return match.group(1)


def _unclaimed(in_app, patient_id: int) -> None:
    """The patient never set a password (their first link was lost)."""

    def clear() -> None:
        db.session.get(Patient, patient_id).user.password_hash = None
        db.session.commit()

    in_app(clear)


# ------------------------------------------------------------------ who may


def test_a_clinician_sees_no_button_for_an_account_with_a_password(doc, admin, world):
    page = doc.get(f"/clinic/patients/{world.patient_a}")
    assert page.status_code == 200
    assert BUTTON not in text_of(page)
    assert f"/clinic/patients/{world.patient_a}/invitation" not in page.get_data(as_text=True)
    assert "a clinic admin can make them a new sign-in link" in text_of(page)
    # The admin has it, with what it does.
    page = admin.get(f"/clinic/patients/{world.patient_a}")
    assert BUTTON in text_of(page)
    assert "replaces the patient's password" in text_of(page)


def test_a_forged_post_by_a_clinician_is_404_audited_and_makes_no_link(doc, world, in_app):
    r = doc.post(f"/clinic/patients/{world.patient_a}/invitation", data={"email_it": "y"})
    assert r.status_code == 404
    assert "/invite/" not in r.get_data(as_text=True)
    assert _invitations(in_app, ALICE) == 0
    assert _outbox_kinds(in_app) == []  # no link email, and nothing to tell
    assert "Doc1|refused: new sign-in link for an account with a password (clinic admins only)" in (
        _events(in_app, world.patient_a)
    )


def test_a_clinician_may_resend_a_first_invitation_audited(app, doc, world, in_app):
    _unclaimed(in_app, world.patient_b)
    page = doc.get(f"/clinic/patients/{world.patient_b}")
    assert "Make a new invitation link" in text_of(page)
    r = doc.post(f"/clinic/patients/{world.patient_b}/invitation")
    assert r.status_code == 200
    token = _token(r)
    assert "Doc1|sign-in link: invitation again, shown on screen" in _events(
        in_app, world.patient_b
    )
    # Nothing to warn about: no password was there to replace, by email or on Today.
    assert "link_notice" not in _outbox_kinds(in_app)
    bob = app.test_client()
    r = bob.post(f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert "Your password was changed" not in text_of(bob.get("/patient/today"))


def test_staff_links_stay_admin_only(doc, admin, world, in_app):
    assert doc.post(f"/clinic/staff/{world.clinician1}/link").status_code == 404
    assert _invitations(in_app, "doc1@north.example") == 0
    assert f"Doc1|refused: clinician.staff_link {world.clinician1} (clinic admins only)" in _events(
        in_app
    )
    r = admin.post(f"/clinic/staff/{world.clinician1}/link")
    assert r.status_code == 200
    assert _invitations(in_app, "doc1@north.example") == 1
    assert any("staff link: new signin link for doc1" in e for e in _events(in_app))
    assert _outbox_kinds(in_app) == ["link_notice"]


# ------------------------------------------------------------------ telling the person


def test_the_admins_link_is_audited_and_the_patient_is_emailed_plainly(
    admin, world, in_app, smtp_server
):
    r = admin.post(f"/clinic/patients/{world.patient_a}/invitation")
    assert r.status_code == 200
    token = _token(r)
    assert any(
        e.startswith("Admin|sign-in link: new sign-in link (replaces the password when used)")
        and e.endswith("shown on screen")
        for e in _events(in_app, world.patient_a)
    )
    assert not any(token in e for e in _events(in_app))
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    (mail,) = smtp_server.to(ALICE)
    body = mail_text(mail)
    assert mail["Subject"] == "A new sign-in link for your ScleroCare account"
    assert (
        "Your clinic made a new sign-in link for your ScleroCare account on 20 November 2026."
        in body
    )
    assert "If you did not ask for it, call your clinic on 01632 960 111." in body
    # No link (it could be the one just made) and nothing of the health record.
    assert links_in(mail) == [] and token not in body
    for word in HEALTH_WORDS:
        assert word.lower() not in body.lower(), word


def test_an_emailed_link_and_its_notice_both_arrive(admin, world, in_app, smtp_server):
    r = admin.post(f"/clinic/patients/{world.patient_a}/invitation", data={"email_it": "y"})
    token = _token(r)
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    mails = smtp_server.to(ALICE)
    assert sorted(m["Subject"] for m in mails) == [
        "A new sign-in link for your ScleroCare account",
        "Your ScleroCare sign-in link",
    ]
    assert [m for m in mails if any(token in link for link in links_in(m))]


def test_the_link_signs_in_asks_for_a_password_and_the_notice_shows_once(app, admin, world, in_app):
    alice_before = app.test_client()
    assert login(alice_before, ALICE).status_code == 302
    token = _token(admin.post(f"/clinic/patients/{world.patient_a}/invitation"))

    visitor = app.test_client()
    page = visitor.get(f"/invite/{token}")
    assert page.status_code == 200
    assert 'type="password"' in page.get_data(as_text=True)  # asks for a new password
    r = visitor.post(f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/patient/today")

    # Signed in by the link; the notice is on the start page once.
    today = visitor.get("/patient/today")
    assert today.status_code == 200 and NOTICE in text_of(today)
    assert "call your clinic on 01632 960 111" in text_of(today)
    assert NOTICE not in text_of(visitor.get("/patient/today"))
    # Every earlier session ended.
    assert alice_before.get("/patient/today").status_code in (302, 401)
    assert login(app.test_client(), ALICE, NEW_PASSWORD).status_code == 302


def test_the_notice_waits_for_the_next_sign_in(app, admin, world, in_app):
    """Set by using the link; shown at whichever start page comes first after it."""
    token = _token(admin.post(f"/clinic/patients/{world.patient_a}/invitation"))
    r = app.test_client().post(
        f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert r.status_code == 302
    later = app.test_client()
    assert login(later, ALICE, NEW_PASSWORD).status_code == 302
    assert NOTICE in text_of(later.get("/patient/today"))
    assert NOTICE not in text_of(later.get("/patient/today"))


def test_staff_see_the_notice_on_their_dashboard_once(app, admin, world, in_app, smtp_server):
    token = _token(admin.post(f"/clinic/staff/{world.clinician1}/link"))
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))
    (mail,) = smtp_server.to("doc1@north.example")
    assert "Your clinic made a new sign-in link for your ScleroCare account" in mail_text(mail)
    doc = app.test_client()
    r = doc.post(f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert NOTICE in text_of(doc.get("/clinic/"))
    assert NOTICE not in text_of(doc.get("/clinic/"))
