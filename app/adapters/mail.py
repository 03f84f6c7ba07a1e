"""Email over SMTP through Flask-Mailman: one connection reused across a batch, and the
server's answer reported as an outcome rather than raised.

What services call: ``MailSender.batch()`` opens a ``MailBatch`` (a context manager);
``MailBatch.send(Email)`` answers a ``MailResult``: ``sent`` (the server accepted it),
``retry`` (4xx, refused connection, time-out, dropped connection) or ``failed`` (5xx:
a bounce the server told us about at once). ``SmtpMailSender`` is the real one; its
settings come from the app's ``MAIL_*`` configuration each time a batch starts.

The development catcher's files (``instance/mail/*.eml``) are read here too
(``caught_mail``, ``read_caught``), for the development-only page. Nothing here imports
a service or a model.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Literal
from typing import Protocol

from flask import Flask
from flask import current_app
from flask_mailman import EmailMultiAlternatives
from flask_mailman import Mail

mail = Mail()


def init_app(app: Flask) -> None:
    """Register Flask-Mailman and the app's sender (``app.extensions["sclero_mail"]``)."""
    mail.init_app(app)
    app.extensions["sclero_mail"] = SmtpMailSender()


def default_sender() -> MailSender:
    """The app's sender (tests and the bench may pass their own to the dispatcher)."""
    return current_app.extensions["sclero_mail"]


@dataclass(frozen=True, slots=True)
class Email:
    """One message, ready to send: plain text always, HTML optional."""

    to: str
    subject: str
    text: str
    html: str | None = None
    # Extra headers: List-Unsubscribe, Message-ID (fixed per outbox row, so a receiving
    # server or mail app can tell a rare repeat), Auto-Submitted.
    headers: dict[str, str] = field(default_factory=dict)
    # Where a reply goes (the clinic's reply-to setting); "" for none. Passed to the
    # library, which encodes it (IDN, quotes) and refuses a line break in it.
    reply_to: str = ""


@dataclass(frozen=True, slots=True)
class MailResult:
    outcome: Literal["sent", "retry", "failed"]
    error: str = ""  # what the server said (or the connection error), for the clinic


class MailBatch(Protocol):
    def send(self, message: Email) -> MailResult: ...


class MailSender(Protocol):
    def batch(self) -> MailBatch: ...  # a context manager giving a MailBatch


def _plain_local_part(address: str) -> bool:
    """The part before the @ is plain ASCII (the domain may be an IDN: it is sent in
    punycode). False for ""."""
    local = address.rpartition("@")[0]
    return bool(local) and local.isascii()


def _smtp_error(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"SMTP {exc.smtp_code} {text}".strip()[:200]


class SmtpBatch:
    """One SMTP connection for a run of messages, opened on the first send.

    After a connection-level failure (refused, time-out, dropped) the rest of the batch
    is answered ``retry`` at once with the same error instead of waiting for the same
    time-out once per message; the next batch tries again.
    """

    def __init__(self, backend: object, sender: str | None) -> None:
        self._backend = backend
        self._sender = sender
        self._broken = ""
        self.connections = 0  # opened by this batch (the bench counts reuse)

    def send(self, message: Email) -> MailResult:
        if self._broken:
            return MailResult("retry", self._broken)
        if not _plain_local_part(message.to):
            # Flask-Mailman would write "josé@" as "=?utf-8?b?...?=@": a mailbox that
            # does not exist, which the server accepts and we would record as sent.
            # SMTPUTF8 is not used, so say so to the clinic (no address in the error).
            return MailResult(
                "failed", "the address has letters outside A-Z before the @, which is not sent"
            )
        backend = self._backend
        try:
            if backend.open():  # type: ignore[attr-defined] - True when it connected now
                self.connections += 1
            built = EmailMultiAlternatives(
                subject=message.subject,
                body=message.text,
                from_email=self._sender,
                to=[message.to],
                headers=dict(message.headers),
                # A reply-to the library would garble (see above) is left off.
                reply_to=[message.reply_to] if _plain_local_part(message.reply_to) else None,
                connection=backend,
            )
            if message.html is not None:
                built.attach_alternative(message.html, "text/html")
            sent = backend.send_messages([built])  # type: ignore[attr-defined]
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = "; ".join(
                f"SMTP {code} {text.decode('utf-8', 'replace')}"
                for code, text in exc.recipients.values()
            )[:200]
            return MailResult("failed" if any(c >= 500 for c in codes) else "retry", error)
        except smtplib.SMTPResponseException as exc:
            return self._answered(exc)
        except ValueError as exc:
            # The message cannot be written at all (a line break in an address or a
            # header, an address that cannot be encoded): sending it again will not
            # help. The connection may be half-way through a command: start afresh.
            self._close()
            return MailResult("failed", f"cannot be sent: {exc}"[:200])
        except (smtplib.SMTPException, OSError) as exc:
            self._broken = f"{type(exc).__name__}: {exc}"[:200]
            self._close()
            return MailResult("retry", self._broken)
        if sent != 1:
            return MailResult("retry", "the server did not take the message")
        return MailResult("sent")

    def _answered(self, exc: smtplib.SMTPResponseException) -> MailResult:
        if isinstance(exc, smtplib.SMTPConnectError) or exc.smtp_code == 421:
            # 421 "closing the channel" (often as the greeting of a busy server): the
            # connection is gone, so the rest of the batch waits for the next one
            # rather than opening a new connection per email.
            self._broken = _smtp_error(exc)
            self._close()
            return MailResult("retry", self._broken)
        # Sender refused, data refused: 5xx is permanent, 4xx asks us to come back.
        return MailResult("failed" if exc.smtp_code >= 500 else "retry", _smtp_error(exc))

    def _close(self) -> None:
        try:
            self._backend.close()  # type: ignore[attr-defined]
        except (smtplib.SMTPException, OSError):
            pass


class SmtpMailSender:
    """The real sender: Flask-Mailman's SMTP backend with the app's current settings."""

    @contextmanager
    def batch(self) -> Iterator[SmtpBatch]:
        config = current_app.config
        backend = mail.get_connection(
            backend="smtp",
            fail_silently=False,
            host=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            timeout=config.get("MAIL_TIMEOUT"),
        )
        batch = SmtpBatch(backend, config.get("MAIL_DEFAULT_SENDER"))
        try:
            yield batch
        finally:
            batch._close()


# ------------------------------------------------------------------ development catcher

_CAUGHT_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,120}\.eml$")


@dataclass(frozen=True, slots=True)
class CaughtMail:
    name: str
    to: str
    subject: str
    date: str
    text: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def caught_mail(folder: str, limit: int = 200) -> list[CaughtMail]:
    """The newest caught messages in ``folder`` (newest first), headers only."""
    try:
        names = [n for n in os.listdir(folder) if _CAUGHT_NAME.match(n)]
    except FileNotFoundError:
        return []
    names.sort(reverse=True)  # the catcher names files by time, so this is newest first
    return [_parse(folder, name, body=False) for name in names[:limit]]


def read_caught(folder: str, name: str) -> CaughtMail | None:
    """One caught message with its text part, or None (unknown or odd name)."""
    if not _CAUGHT_NAME.match(name) or not os.path.isfile(os.path.join(folder, name)):
        return None
    return _parse(folder, name, body=True)


def _parse(folder: str, name: str, *, body: bool) -> CaughtMail:
    with open(os.path.join(folder, name), "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    text = ""
    if body:
        part = msg.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
    return CaughtMail(
        name=name,
        to=str(msg.get("To", "")),
        subject=str(msg.get("Subject", "")),
        date=str(msg.get("Date", "")),
        text=text,
        headers=[(k, str(v)) for k, v in msg.items()] if body else [],
    )
