"""Changing one's own password while signed in (issue 18 point 5; checklist A8, A9):
other sessions and trusted devices end, this one stays, the person is emailed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models.user import TrustedDevice
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.smtp_double import text_of as mail_text
from tests.web.test_mfa import code_for
from tests.web.test_mfa import enrol
from tests.web.test_password_reset import _deliver

NEW = "a brand new sentence password"
PAGE = "/account/password"


def _change(client, current=PASSWORD, new=NEW, confirm=None):
    return client.post(PAGE, data={"current": current, "password": new, "confirm": confirm or new})


def _actions(in_app) -> list[str]:
    return in_app(
        lambda: list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    )


@pytest.mark.parametrize("email", ["alice@patients.example", "doc1@north.example"])
def test_change_ends_other_sessions_keeps_this_one_and_emails(
    app, client, world, in_app, clock, smtp_server, email
):
    other = app.test_client()  # the same person on another device
    login(other, email)
    login(client, email)
    home = "/patient/today" if "patients" in email else "/clinic/"
    where = "/patient/reminders" if "patients" in email else "/clinic/"  # its link
    assert 'href="/account/password"' in client.get(where).get_data(as_text=True)
    page = client.get(PAGE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    r = _change(client)
    assert r.status_code == 303 and r.headers["Location"] == home
    assert "Your password is changed" in text_of(client.get(home))
    assert client.get(home).status_code == 200  # this session stays
    assert other.get(home).status_code == 302  # the other one ended
    client.post("/logout")
    assert login(client, email).status_code == 401
    assert login(client, email, NEW).status_code == 302
    assert "password_changed" in _actions(in_app)
    _deliver(in_app, clock)
    mail = smtp_server.to(email)[-1]
    assert mail["Subject"] == "Your ScleroCare password was changed"
    body = mail_text(mail)
    assert "every other device" in body and "Polidocanol" not in body and "calf" not in body
    assert links_in(mail) == ["http://localhost/forgot-password"]


def test_wrong_current_password_is_refused_and_audited(client, world, in_app):
    login(client, "alice@patients.example")
    r = _change(client, current="not my password at all")
    assert r.status_code == 400
    assert "That is not your current password" in text_of(r)
    assert 'aria-describedby="current-error"' in r.get_data(as_text=True)
    assert "password_change_failed" in _actions(in_app)
    client.post("/logout")
    assert login(client, "alice@patients.example").status_code == 302  # unchanged


def test_new_password_follows_the_rules(client, world):
    login(client, "alice@patients.example")
    short = _change(client, new="too short")
    assert short.status_code == 400 and "at least 12 characters" in text_of(short)
    differ = _change(client, confirm="another long sentence here")
    assert differ.status_code == 400 and "not the same" in text_of(differ)
    same = _change(client, new=PASSWORD)
    assert same.status_code == 400 and "That is your current password" in text_of(same)


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    r = client.get(PAGE)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert _change(client).status_code == 302


def test_change_forgets_trusted_devices(app, client, world, clock, in_app):
    app.config["SCLERO_STAFF_MFA_REQUIRED"] = True
    login(client, "doc1@north.example")
    secret, _ = enrol(client, clock)
    client.post("/logout")
    clock.advance(seconds=30)
    login(client, "doc1@north.example")
    client.post("/login/code", data={"code": code_for(secret, clock), "trust": "y"})
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(TrustedDevice.id)))) == 1
    r = _change(client)
    assert r.status_code == 303
    assert "sclero_trust=;" in r.headers.get("Set-Cookie", "")
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(TrustedDevice.id)))) == 0
    client.post("/logout")
    login(client, "doc1@north.example", NEW)
    assert client.get("/login/code").status_code == 200  # the code is asked again


def test_patients_find_it_under_reminders_and_staff_in_the_header(client, world):
    """A patient's header keeps to the brand, "Install app" and "Sign out": a third
    item wrapped it when "Install app" appeared after load, shifting the whole page."""
    login(client, "alice@patients.example")
    today = client.get("/patient/today").get_data(as_text=True)
    header = today.split('<header class="top">', 1)[1].split("</header>", 1)[0]
    assert "/account/password" not in header
    assert 'href="/account/password"' in client.get("/patient/reminders").get_data(as_text=True)
    staff = client.application.test_client()
    login(staff, "doc1@north.example")
    page = staff.get("/clinic/").get_data(as_text=True)
    assert "/account/password" in page.split('<header class="top">', 1)[1].split("</header>")[0]
