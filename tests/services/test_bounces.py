"""Late bounces (issue 17 point 5): delivery status notifications (RFC 3464) built with
the stdlib, about emails really sent through the outbox to the loopback SMTP server, fed
to ``flask mail bounce`` on stdin, as files and as a Maildir; what the clinic then sees
on the patient page and the staff page, and the pause of reminder emails after a hard
bounce of a digest.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from email.message import EmailMessage
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Role
from app.models import User
from app.services.notify.email_enqueue import enqueue_link_email
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.services.test_email_dispatch import ALICE
from tests.services.test_email_dispatch import AT
from tests.services.test_email_dispatch import _add_rows
from tests.services.test_email_dispatch import _patient
from tests.services.test_email_dispatch import _run

DIAG = "smtp; 550 5.1.1 <alice@patients.example>: Recipient address rejected: User unknown"


def dsn(
    original: Message | None,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = DIAG,
    headers_only: bool = True,
    in_reply_to: str | None = None,
) -> bytes:
    """A Postfix-style bounce: text, delivery-status, and the original's headers (or
    the whole message), as ``multipart/report; report-type=delivery-status``."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.patients.example (Mail Delivery System)"
    report["To"] = "bounces@localhost"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        report["In-Reply-To"] = in_reply_to
    report.attach(MIMEText("I'm sorry to have to inform you that your message could not\n"))
    status_part = MIMEBase("message", "delivery-status")
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.patients.example"
    per_message["Arrival-Date"] = "Mon, 23 Nov 2026 10:00:31 +0000"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {ALICE}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    if original is not None:
        if headers_only:
            part = MIMEBase("text", "rfc822-headers")
            head = "".join(f"{k}: {v}\n" for k, v in original.items())
            part.set_payload(head)
            report.attach(part)
        else:
            report.attach(MIMEMessage(original))
    return report.as_bytes()


def _sent_digest(in_app, smtp_server) -> tuple[int, EmailMessage]:
    """Alice's digest, really sent: (its outbox id, the message the server got)."""
    in_app(_patient, ["daily"])
    _run(in_app, AT)
    (mail,) = smtp_server.messages
    row_id = in_app(lambda: db.session.scalar(sa.select(OutboxMessage.id).where(_digest())))
    return row_id, mail


def _digest():
    return OutboxMessage.kind == "digest"


def _row(in_app, row_id: int) -> tuple[str, str]:
    row = in_app(db.session.get, OutboxMessage, row_id)
    return row.state.value, row.last_error


def _bounce(runner, raw: bytes, *files: str):
    result = runner.invoke(args=["mail", "bounce", *files], input=raw)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    return result.output


def test_a_hard_bounce_fails_the_sent_digest_once(app, in_app, runner, smtp_server, clock, caplog):
    row_id, mail = _sent_digest(in_app, smtp_server)
    caplog.set_level("INFO", logger="app.services.notify.bounces")
    assert mail["Message-ID"] == f"<outbox-{row_id}@localhost>"
    assert _row(in_app, row_id)[0] == "sent"
    out = _bounce(runner, dsn(mail))
    assert out.strip() == f"bounced: email {row_id} (5.1.1)"
    # The record of this system action: one app log line, without the address.
    (line,) = [r.getMessage() for r in caplog.records if r.name.endswith("bounces")]
    assert line == f"mail bounce: bounced: email {row_id} (5.1.1)"
    state, error = _row(in_app, row_id)
    assert state == "failed"
    assert error.startswith("bounced: 5.1.1 550 5.1.1 <alice@patients.example>: Recipient")
    at = in_app(db.session.get, OutboxMessage, row_id).available_at
    # The same report again (the MTA delivered it twice): nothing changes.
    clock.advance(hours=1)
    assert _bounce(runner, dsn(mail)).startswith("unchanged")
    assert _row(in_app, row_id) == (state, error)
    assert in_app(db.session.get, OutboxMessage, row_id).available_at == at


def test_the_whole_returned_message_or_in_reply_to_also_name_the_email(
    app, in_app, runner, smtp_server
):
    row_id, mail = _sent_digest(in_app, smtp_server)
    assert _bounce(runner, dsn(mail, headers_only=False)).startswith("bounced")
    in_app(_reset, row_id)
    no_headers = dsn(None, in_reply_to=mail["Message-ID"])
    assert _bounce(runner, no_headers).startswith("bounced")


def _reset(row_id: int) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(state=OutboxState.SENT, last_error="")
    )
    db.session.commit()


def test_a_delay_is_noted_and_a_later_hard_bounce_still_counts(app, in_app, runner, smtp_server):
    row_id, mail = _sent_digest(in_app, smtp_server)
    delay = dsn(
        mail, status="4.4.1", action="delayed", diagnostic="X-Postfix; connect to mx: timed out"
    )
    assert _bounce(runner, delay).strip() == f"delayed: email {row_id} (4.4.1)"
    assert _row(in_app, row_id) == ("sent", "delayed: 4.4.1 connect to mx: timed out")
    assert _bounce(runner, delay).startswith("unchanged")
    assert _bounce(runner, dsn(mail)).startswith("bounced")
    # A delay report arriving after the bounce does not undo it.
    assert _bounce(runner, delay).startswith("unchanged")
    assert _row(in_app, row_id)[0] == "failed"


def test_what_is_not_ours_or_not_a_report_changes_nothing(app, in_app, runner, smtp_server):
    row_id, mail = _sent_digest(in_app, smtp_server)
    foreign = EmailMessage()
    foreign["Message-ID"] = f"<outbox-{row_id}@evil.example>"
    cases = {
        "no original": dsn(None),
        "foreign host": dsn(foreign),
        "garbage": bytes(range(256)) * 40 + b"\x00\xff\xfe",
        "empty": b"",
        "a plain email": b"From: a@b\r\nSubject: hi\r\nIn-Reply-To: "
        + mail["Message-ID"].encode()
        + b"\r\n\r\nthanks\r\n",
        "unknown id": dsn(None, in_reply_to="<outbox-99999999999@localhost>"),
        "no such row": dsn(None, in_reply_to="<outbox-123456@localhost>"),
        "delivered": dsn(mail, status="2.0.0", action="delivered"),
    }
    for name, raw in cases.items():
        out = _bounce(runner, raw)
        assert out.count("\n") == 1, name
        assert _row(in_app, row_id) == ("sent", ""), name
    assert _bounce(runner, dsn(None)).startswith("ignored: not about an email sent by this app")


def test_odd_bytes_in_the_diagnostic_are_stored_safely_and_bounded(
    app, in_app, runner, smtp_server
):
    row_id, mail = _sent_digest(in_app, smtp_server)
    raw = dsn(mail, diagnostic="smtp; 550 " + "x" * 5000)
    raw = raw.replace(b"550 xxx", b"550 \xff\xfe\x00\x1b[31m xxx")
    assert _bounce(runner, raw).startswith("bounced")
    state, error = _row(in_app, row_id)
    assert state == "failed" and len(error) <= 200 and error.startswith("bounced: 5.1.1 550 ")
    assert all(ch.isprintable() for ch in error)


def test_a_huge_report_is_read_without_trouble(app, in_app, runner, smtp_server):
    row_id, mail = _sent_digest(in_app, smtp_server)
    big = EmailMessage()
    for key, value in mail.items():
        big[key] = value
    big.set_content("attachment " * 800_000)  # about 9 MB returned
    raw = dsn(big, headers_only=False)
    assert len(raw) > 5_000_000
    assert _bounce(runner, raw).startswith("bounced")


def test_files_and_a_maildir(app, in_app, runner, smtp_server, tmp_path):
    row_id, mail = _sent_digest(in_app, smtp_server)
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1.delay").write_bytes(dsn(mail, status="4.4.1", action="delayed"))
    (box / "new" / "2.junk").write_bytes(b"\x00\x01 not mail")
    out = _bounce(runner, b"", str(box))
    assert out.splitlines() == [
        f"1.delay: delayed: email {row_id} (4.4.1)",
        "2.junk: ignored: not a delivery status report",
    ]
    assert not list((box / "new").iterdir()) and len(list((box / "cur").iterdir())) == 2
    one = tmp_path / "one.eml"
    one.write_bytes(dsn(mail))
    assert _bounce(runner, b"", str(one), str(tmp_path / "missing.eml")).splitlines() == [
        f"one.eml: bounced: email {row_id} (5.1.1)",
        "missing.eml: ignored: could not read it (FileNotFoundError)",
    ]


def _command(database_url: str, raw: bytes) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ".",
        "FLASK_APP": "wsgi.py",
        "APP_ENV": "development",
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "SCLERO_BASE_URL": "http://localhost",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "mail", "bounce"],
        input=raw,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_real_command_reads_stdin_as_an_mta_pipe_does(app, in_app, smtp_server, database_url):
    row_id, mail = _sent_digest(in_app, smtp_server)
    done = _command(database_url, dsn(mail))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == f"bounced: email {row_id} (5.1.1)"
    assert b"Traceback" not in done.stderr
    assert _row(in_app, row_id)[0] == "failed"


def test_without_the_database_the_mail_server_is_asked_to_try_again(app, in_app, smtp_server):
    row_id, mail = _sent_digest(in_app, smtp_server)
    done = _command("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", dsn(mail))
    assert done.returncode == 75, done.stderr  # EX_TEMPFAIL: Postfix and Exim retry
    assert done.stdout.decode().startswith("deferred: the database could not be reached")
    assert b"Traceback" not in done.stderr
    assert _row(in_app, row_id)[0] == "sent"


# ------------------------------------------------------------------ what the clinic sees


def test_the_patient_page_shows_the_bounce_and_reminder_emails_pause(
    app, in_app, client, runner, smtp_server, clock
):
    row_id, mail = _sent_digest(in_app, smtp_server)
    _bounce(runner, dsn(mail))
    pid = in_app(lambda: db.session.scalar(sa.select(OutboxMessage.patient_id)))
    login(client, "doc@north.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert "The last one bounced" in page
    assert "Recipient address rejected: User unknown" in page
    assert "Reminder emails paused since a reminder email bounced" in page
    # The next day's reminders are not emailed to the address that bounced.
    in_app(_add_rows, pid, ["daily"], AT + timedelta(days=1), "next")
    report = _run(in_app, AT + timedelta(days=1, minutes=1))
    assert report.emails == 0 and len(smtp_server.messages) == 1
    # The clinic corrects the address: the next digest goes to the new one.
    _change_email(client, pid, "alice@fixed.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert "Reminder emails paused" not in page
    in_app(_add_rows, pid, ["daily"], AT + timedelta(days=2), "after")
    _run(in_app, AT + timedelta(days=2, minutes=1))
    assert [m["To"] for m in smtp_server.messages][-1] == "alice@fixed.example"


def _change_email(client, pid: int, address: str) -> None:
    """The clinic corrects the address on the Edit details page."""
    response = client.post(
        f"/clinic/patients/{pid}/edit",
        data={"name": "Alice Marker-A", "email": address, "phone": "", "timezone": "Europe/London"},
    )
    assert response.status_code == 303


def test_the_patient_is_told_and_choosing_email_again_ends_the_pause(
    app, in_app, client, runner, smtp_server, clock
):
    row_id, mail = _sent_digest(in_app, smtp_server)
    pid = in_app(lambda: db.session.scalar(sa.select(OutboxMessage.patient_id)))
    login(client, ALICE)
    assert "reminder emails are paused" not in text_of(client.get("/patient/reminders"))
    _bounce(runner, dsn(mail))
    assert "reminder emails are paused" in text_of(client.get("/patient/reminders"))
    clock.advance(hours=1)
    login(client, ALICE)  # sessions end after 30 idle minutes
    response = client.post("/patient/reminders/email", data={"channel": "email"})
    assert response.status_code == 303
    assert "reminder emails are paused" not in text_of(client.get("/patient/reminders"))
    in_app(_add_rows, pid, ["daily"], AT + timedelta(days=1, hours=1), "again")
    report = _run(in_app, AT + timedelta(days=1, hours=1, minutes=1))
    assert report.emails == 1 and len(smtp_server.messages) == 2


def test_the_staff_page_shows_a_staff_email_that_bounced(app, in_app, client, runner, smtp_server):
    def setup() -> None:
        from tests.conftest import make_clinic

        clinic = make_clinic("north")
        make_staff(clinic, "admin@north.example", Role.CLINIC_ADMIN)
        new = make_staff(clinic, "newdoc@north.example")
        enqueue_link_email(new, "invite", "http://localhost/invite/secret", AT)
        db.session.commit()

    in_app(setup)
    _run(in_app, AT)
    (mail,) = smtp_server.messages
    login(client, "admin@north.example")
    assert "Last email" not in text_of(client.get("/clinic/staff"))
    _bounce(runner, dsn(mail, diagnostic="smtp; 550 5.1.1 mailbox unavailable"))
    page = text_of(client.get("/clinic/staff"))
    assert "Last email bounced: 5.1.1 550 5.1.1 mailbox unavailable" in page
    # Only the person it was sent to.
    assert page.count("Last email bounced") == 1

    def new_link() -> None:
        user = db.session.scalar(sa.select(User).where(User.email == "newdoc@north.example"))
        enqueue_link_email(user, "signin", "http://localhost/invite/again", AT)
        db.session.commit()

    # A later email to them that went through: the old failure is no longer news.
    in_app(new_link)
    _run(in_app, AT + timedelta(minutes=5))
    assert len(smtp_server.messages) == 2
    assert "Last email" not in text_of(client.get("/clinic/staff"))


POSTFIX = """Return-Path: <>
Date: Mon, 23 Nov 2026 10:00:40 +0000 (GMT)
From: MAILER-DAEMON@mx.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: noreply@localhost
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="ABC.1700000000/mx.example"

This is a MIME-encapsulated message.

--ABC.1700000000/mx.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.

--ABC.1700000000/mx.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
X-Postfix-Queue-ID: 1234

Final-Recipient: rfc822; alice@patients.example
Original-Recipient: rfc822;alice@patients.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <alice@patients.example>: Recipient address
    rejected: User unknown in virtual mailbox table

--ABC.1700000000/mx.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Message-ID: MESSAGE_ID
Subject: Your ScleroCare reminders for today

--ABC.1700000000/mx.example--
"""


def test_a_report_as_postfix_writes_it(app, in_app, runner, smtp_server):
    """Byte for byte as Postfix sends it: CRLF, a folded Diagnostic-Code."""
    row_id, mail = _sent_digest(in_app, smtp_server)
    raw = POSTFIX.replace("MESSAGE_ID", mail["Message-ID"].upper()).replace("\n", "\r\n")
    assert _bounce(runner, raw.encode()).strip() == f"bounced: email {row_id} (5.1.1)"
    assert _row(in_app, row_id) == (
        "failed",
        "bounced: 5.1.1 550 5.1.1 <alice@patients.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
    )
