"""Self-service password reset (issue 17 point 5), end to end: the sign-in page's link,
the same answer for unknown emails, the emailed link received by a real SMTP server on
loopback and followed with the test client, one hour, single use, the password rules,
every other session ended, the per-account limit, the audit trail, and no token left in
the database once the email has gone.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import AuditEvent
from app.models import OutboxMessage
from app.models import PasswordReset
from app.services.notify import dispatch
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.smtp_double import text_of as mail_text

NEW = "a brand new sentence password"


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def _deliver(in_app, clock) -> None:
    in_app(dispatch.run_until_empty, NoPush(), advancing(clock()))


def _ask(client, email):
    return client.post("/forgot-password", data={"email": email})


def _reset_path(smtp_server, to) -> str:
    mail = smtp_server.to(to)[-1]
    link = next(u for u in links_in(mail) if "/reset/" in u)
    assert link.startswith("http://localhost/reset/")
    return link.removeprefix("http://localhost")


def test_the_sign_in_page_offers_a_reset(client):
    page = client.get("/login")
    assert 'href="/forgot-password"' in page.get_data(as_text=True)
    assert "Forgot your password?" in text_of(client.get("/forgot-password"))


def test_known_and_unknown_emails_get_the_same_page_and_only_one_gets_mail(
    app, client, world, in_app, clock, smtp_server
):
    known = _ask(client, "alice@patients.example")
    unknown = _ask(client, "nobody@patients.example")
    assert known.status_code == unknown.status_code == 200
    assert text_of(known).replace("alice@patients.example", "X") == text_of(unknown).replace(
        "nobody@patients.example", "X"
    )
    _deliver(in_app, clock)
    assert [m["To"] for m in smtp_server.messages] == ["alice@patients.example"]
    mail = smtp_server.messages[0]
    assert mail["Subject"] == "Reset your ScleroCare password"
    assert "for one hour" in mail_text(mail)


def test_a_reset_sets_the_password_and_ends_every_session(
    app, client, world, in_app, clock, smtp_server
):
    other = app.test_client()  # the patient is signed in on another phone
    login(other, "alice@patients.example")
    assert other.get("/patient/today").status_code == 200
    assert _ask(client, "ALICE@Patients.example").status_code == 200  # any case
    _deliver(in_app, clock)
    path = _reset_path(smtp_server, "alice@patients.example")
    # The emailed link is no longer in the outbox; only its hash is stored.
    token = path.rsplit("/", 1)[1]
    assert in_app(lambda: db.session.scalar(sa.select(OutboxMessage.secret))) is None
    stored = in_app(lambda: db.session.scalar(sa.select(PasswordReset.token_hash)))
    assert token not in stored and len(stored) == 64
    assert client.get(path).status_code == 200
    # A password breaking the rules: explained on the field, nothing changed.
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 12 characters" in text_of(short)
    done = client.post(path, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert other.get("/patient/today").status_code == 302  # signed out there
    assert login(client, "alice@patients.example").status_code == 401  # old password
    assert login(client, "alice@patients.example", NEW).status_code == 302
    actions = in_app(
        lambda: db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    )
    assert "password reset asked" in actions and "password reset" in actions


def test_the_link_works_once(app, client, world, in_app, clock, smtp_server):
    _ask(client, "alice@patients.example")
    _deliver(in_app, clock)
    path = _reset_path(smtp_server, "alice@patients.example")
    assert client.post(path, data={"password": NEW, "confirm": NEW}).status_code == 303
    again = client.post(path, data={"password": NEW + "!", "confirm": NEW + "!"})
    assert again.status_code == 410 and "already been used" in text_of(again)
    assert login(client, "alice@patients.example", NEW + "!").status_code == 401


def test_the_link_runs_out_after_an_hour(app, client, world, in_app, clock, smtp_server):
    _ask(client, "alice@patients.example")
    _deliver(in_app, clock)
    path = _reset_path(smtp_server, "alice@patients.example")
    clock.advance(minutes=61)
    page = client.get(path)
    assert page.status_code == 410 and "expired" in text_of(page)
    assert client.post(path, data={"password": NEW, "confirm": NEW}).status_code == 410
    assert login(client, "alice@patients.example", PASSWORD).status_code == 302


def test_a_newer_link_replaces_the_older_one(app, client, world, in_app, clock, smtp_server):
    _ask(client, "alice@patients.example")
    _deliver(in_app, clock)
    first = _reset_path(smtp_server, "alice@patients.example")
    _ask(client, "alice@patients.example")
    _deliver(in_app, clock)
    second = _reset_path(smtp_server, "alice@patients.example")
    assert first != second
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


def test_at_most_three_links_an_hour_per_account(app, client, world, in_app, clock, smtp_server):
    for _ in range(5):
        assert _ask(client, "alice@patients.example").status_code == 200
        _deliver(in_app, clock)
    assert len(smtp_server.messages) == 3
    clock.advance(minutes=61)
    _ask(client, "alice@patients.example")
    _deliver(in_app, clock)
    assert len(smtp_server.messages) == 4


def test_staff_can_reset_too(app, client, world, in_app, clock, smtp_server):
    _ask(client, "doc1@north.example")
    _deliver(in_app, clock)
    path = _reset_path(smtp_server, "doc1@north.example")
    assert client.post(path, data={"password": NEW, "confirm": NEW}).status_code == 303
    assert login(client, "doc1@north.example", NEW).headers["Location"] == "/clinic/"


@pytest.mark.parametrize("email", ["", "not an email", "a@b" + "c" * 300 + ".example"])
def test_bad_emails_are_explained_and_kept(client, world, email):
    page = client.post("/forgot-password", data={"email": email})
    assert page.status_code == 400
    assert re.search(r"email", text_of(page), re.I)
    if email == "not an email":
        assert 'value="not an email"' in page.get_data(as_text=True)


def test_control_characters_never_break_the_page(client, world):
    # app.textinput removes the NUL before the form sees it: a normal answer, no 500.
    assert client.post("/forgot-password", data={"email": "nul\x00@x.example"}).status_code == 200


@pytest.mark.parametrize("token", ["x", "A" * 5000, "%C3%A9", "..%2F..%2Fetc"])
def test_odd_reset_links_are_a_clear_410(client, token):
    page = client.get(f"/reset/{token}")
    assert page.status_code in (404, 410)
    if page.status_code == 410:
        assert "could not find this reset link" in text_of(page)
