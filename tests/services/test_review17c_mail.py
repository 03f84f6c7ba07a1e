"""Review of issue 17 point 5 (email): addresses and headers the world will send us, and
SMTP servers that misbehave, against real servers on loopback: a well-behaved one
(tests/smtp_double.py) and raw sockets that stay silent, answer 421, or hang up.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC
from datetime import datetime

import pytest
import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import OutboxMessage
from app.models import User
from app.services.notify import dispatch
from app.services.notify.email_enqueue import enqueue_link_email
from tests.conftest import make_clinic
from tests.conftest import make_staff
from tests.smtp_double import free_port

AT = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def _links(*emails: str, reply_to: str = "") -> None:
    clinic = make_clinic("north")
    clinic.reply_to_email = reply_to
    for i, address in enumerate(emails):
        user = make_staff(clinic, address)
        enqueue_link_email(user, "signin", f"http://localhost/invite/secret-{i}", AT)
    db.session.commit()


def _rows(in_app) -> dict[str, tuple[str, str]]:
    return in_app(
        lambda: {
            u.email: (r.state.value, r.last_error)
            for r, u in db.session.execute(
                sa.select(OutboxMessage, User).join(
                    User, User.id == OutboxMessage.recipient_user_id
                )
            )
        }
    )


def _once(in_app):
    return in_app(dispatch.dispatch_due, NoPush(), AT, clock=advancing(AT))


# ------------------------------------------------------------------ addresses and headers


def test_an_idn_domain_is_sent_in_punycode_and_arrives(app, in_app, smtp_server):
    in_app(_links, "anna@bücher.example", "bob@north.example")
    report = _once(in_app)
    assert report.sent == 2
    envelopes = sorted(to[0] for _, to in smtp_server.envelopes)
    assert envelopes == ["anna@xn--bcher-kva.example", "bob@north.example"]


def _recording(lines: list[bytes]):  # noqa: ANN202
    """An SMTP server that accepts everything and keeps every line it was sent (the
    double above decodes an encoded-word in RCPT, which hides what went on the wire)."""

    def script(conn: socket.socket) -> None:
        conn.sendall(b"220 raw.example ESMTP\r\n")
        data = False
        for line in conn.makefile("rb"):
            lines.append(line)
            if data:
                if line == b".\r\n":
                    data = False
                    conn.sendall(b"250 queued\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                data = True
                conn.sendall(b"354 go on\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 OK\r\n")

    return script


def test_a_non_ascii_mailbox_name_is_never_sent_to_a_made_up_address(app, in_app, raw):
    """``josé@`` cannot be written in plain SMTP. The library encoded it as
    ``=?utf-8?b?...?=@``: a mailbox that does not exist, recorded as sent. It must fail
    visibly instead, and never hold up the others."""
    lines: list[bytes] = []
    raw(_recording(lines))
    in_app(_links, "josé@north.example", "bob@north.example")
    _once(in_app)
    rcpts = [line for line in lines if line[:4].upper() == b"RCPT"]
    assert rcpts == [b"rcpt TO:<bob@north.example>\r\n"], rcpts
    rows = _rows(in_app)
    assert rows["bob@north.example"][0] == "sent"
    assert rows["josé@north.example"][0] == "failed"
    assert "josé@north.example" not in rows["josé@north.example"][1]  # no address logged


def test_a_line_break_smuggled_into_an_address_fails_that_row_only(app, in_app, smtp_server):
    """Stored addresses are validated, but a row written by hand (or a future import)
    must not inject a header, and a permanent error is not retried for hours."""
    in_app(_links, "eve@north.example", "bob@north.example")

    def poison():
        db.session.execute(
            sa.update(User)
            .where(User.email == "eve@north.example")
            .values(email="eve@north.example\r\nBcc: all@evil.example")
        )
        db.session.commit()

    in_app(poison)
    report = _once(in_app)
    assert [to for _, to in smtp_server.envelopes] == [["bob@north.example"]]
    assert all(m["Bcc"] is None for m in smtp_server.messages)
    states = {k.split("\r")[0]: v[0] for k, v in _rows(in_app).items()}
    assert states == {"eve@north.example": "failed", "bob@north.example": "sent"}
    assert report.retried == 0


def test_the_clinics_reply_to_address_is_on_every_email(app, in_app, smtp_server):
    in_app(_links, "bob@north.example", reply_to="reception@north.example")
    _once(in_app)
    (mail,) = smtp_server.messages
    assert mail["Reply-To"] == "reception@north.example"


# ------------------------------------------------------------------ misbehaving servers


class RawServer:
    """A loopback TCP server that runs ``script(conn)`` for each connection."""

    def __init__(self, script) -> None:  # noqa: ANN001
        self.port = free_port()
        self.script = script
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(50)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.script(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def raw(app):
    servers: list[RawServer] = []

    def start(script):  # noqa: ANN001, ANN202
        server = RawServer(script)
        servers.append(server)
        app.config["MAIL_PORT"] = server.port
        app.config["MAIL_TIMEOUT"] = 1.0
        return server

    yield start
    for s in servers:
        s.stop()


def _silent(conn: socket.socket) -> None:
    time.sleep(3)


def _refuse_421(conn: socket.socket) -> None:
    conn.sendall(b"421 4.3.2 Too busy, try later\r\n")


def test_a_silent_server_costs_one_timeout_per_batch_and_nothing_is_lost(app, in_app, raw):
    server = raw(_silent)
    in_app(_links, *[f"doc{i}@north.example" for i in range(5)])
    started = time.monotonic()
    report = _once(in_app)
    assert time.monotonic() - started < 2.5
    assert report.retried == 5 and server.connections == 1
    assert {v[0] for v in _rows(in_app).values()} == {"pending"}


def test_a_421_greeting_is_one_connection_per_batch_not_one_per_email(app, in_app, raw):
    server = raw(_refuse_421)
    in_app(_links, *[f"doc{i}@north.example" for i in range(5)])
    report = _once(in_app)
    assert report.retried == 5
    assert server.connections == 1
    errors = {v[1] for v in _rows(in_app).values()}
    assert all("421" in e for e in errors), errors


def test_a_reply_to_on_an_idn_domain_is_encoded_and_a_smuggled_header_is_refused(
    app, in_app, smtp_server
):
    in_app(_links, "bob@north.example", reply_to="desk@bücher.example")
    _once(in_app)
    (mail,) = smtp_server.messages
    assert mail["Reply-To"] in ("desk@xn--bcher-kva.example", "desk@bücher.example")
    assert "A reply goes to your clinic." in mail.get_body(("plain",)).get_content()

    def poison():
        from app.models import Clinic

        db.session.execute(sa.update(Clinic).values(reply_to_email="a@b.example\nBcc: x@y"))
        enqueue_link_email(
            db.session.scalar(sa.select(User)), "signin", "http://localhost/invite/s2", AT
        )
        db.session.commit()

    in_app(poison)
    smtp_server.clear()
    report = _once(in_app)
    assert smtp_server.messages == [] and report.failed == 1 and report.retried == 0


def _smtp(rcpt: bytes = b"250 OK", after_data: str = "ok", delay: float = 0.0):  # noqa: ANN202, C901
    """A scripted SMTP server: ``rcpt`` answers RCPT; after DATA it answers, hangs up
    (``drop``) or waits ``delay`` seconds first."""

    def script(conn: socket.socket) -> None:  # noqa: C901 - a tiny SMTP state machine
        conn.sendall(b"220 raw.example ESMTP\r\n")
        buf = b""
        in_data = False
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            while b"\r\n" in buf:
                if in_data:
                    if b"\r\n.\r\n" not in buf:
                        break
                    buf = buf.split(b"\r\n.\r\n", 1)[1]
                    in_data = False
                    if after_data == "drop":
                        return
                    time.sleep(delay)
                    conn.sendall(b"250 queued\r\n")
                    continue
                line, buf = buf.split(b"\r\n", 1)
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 raw.example\r\n")
                elif verb == b"RCPT":
                    conn.sendall(rcpt + b"\r\n")
                elif verb == b"DATA":
                    if after_data == "drop-in-data":
                        conn.sendall(b"354 go on\r\n")
                        conn.recv(10)
                        return
                    conn.sendall(b"354 go on\r\n")
                    in_data = True
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 OK\r\n")

    return script


def test_452_per_recipient_is_retried_and_the_batch_goes_on(app, in_app, raw):
    raw(_smtp(rcpt=b"452 4.2.2 Mailbox full"))
    in_app(_links, "doc0@north.example", "doc1@north.example", "doc2@north.example")
    report = _once(in_app)
    assert report.retried == 3 and report.failed == 0
    assert all(v == ("pending", "SMTP 452 4.2.2 Mailbox full") for v in _rows(in_app).values())


@pytest.mark.parametrize("how", ["drop", "drop-in-data"])
def test_a_server_that_hangs_up_mid_data_loses_nothing(app, in_app, raw, how):
    server = raw(_smtp(after_data=how))
    in_app(_links, *[f"doc{i}@north.example" for i in range(4)])
    report = _once(in_app)
    assert report.retried == 4 and report.sent == 0 and server.connections == 1
    rows = _rows(in_app)
    assert {v[0] for v in rows.values()} == {"pending"}
    # The links are kept for the retry, and the error says what happened.
    assert all("Disconnected" in v[1] or "reset" in v[1].lower() for v in rows.values()), rows


def test_a_server_answering_after_the_timeout_costs_one_timeout(app, in_app, raw):
    server = raw(_smtp(delay=30))
    in_app(_links, *[f"doc{i}@north.example" for i in range(5)])
    started = time.monotonic()
    report = _once(in_app)
    assert time.monotonic() - started < 3.5
    assert report.retried == 5 and server.connections == 1


def test_an_unsendable_address_is_shown_on_the_clinician_page(app, in_app, client, world, raw):
    from tests.conftest import login
    from tests.conftest import text_of

    raw(_recording([]))

    def invite_alice():
        alice = db.session.scalar(sa.select(User).where(User.email == "alice@patients.example"))
        alice.email = "alicé@patients.example"
        enqueue_link_email(alice, "invite", "http://localhost/invite/secret-a", AT)
        db.session.commit()

    in_app(invite_alice)
    assert _once(in_app).failed == 1
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "1 email could not be delivered" in page
    assert "letters outside A-Z before the @" in page and "Check the patient's email" in page
