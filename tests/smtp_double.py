"""A real SMTP server on loopback for the email tests and the bench (aiosmtpd).

Not a test. ``SmtpDouble`` runs aiosmtpd in a thread on a free port of 127.0.0.1 and
keeps every message it accepted as parsed ``email.message.EmailMessage`` objects, so
tests assert on what a mail server really received (headers, text, links). It counts the
SMTP connections opened, and can be told to refuse: a recipient (``550``, permanent),
every message (``451``, try later), or to be down altogether (``stop()``).
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, double: SmtpDouble) -> None:
        self.double = double

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if address.lower() in self.double.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        if self.double.busy:
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.double.lock:
            self.double.messages.append(parsed)  # type: ignore[arg-type]
            self.double.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class _CountingSMTP(SMTP):
    double: SmtpDouble

    def connection_made(self, transport):  # noqa: ANN001, ANN201
        with self.double.lock:
            self.double.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, double: SmtpDouble, port: int) -> None:
        self.double = double
        super().__init__(_Handler(double), hostname="127.0.0.1", port=port)

    def factory(self):  # noqa: ANN201
        server = _CountingSMTP(self.handler, **self.SMTP_kwargs)
        server.double = self.double
        return server


class SmtpDouble:
    """The server: ``start()``, ``stop()``, ``messages``, ``connections``, knobs."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections = 0
        self.refuse: set[str] = set()
        self.busy = False
        self.lock = threading.Lock()
        self._controller: _Controller | None = None

    def start(self) -> SmtpDouble:
        self._controller = _Controller(self, self.port)
        self._controller.start()
        with self.lock:
            # start() connects once itself to check the server is up: not a client's.
            self.connections = 0
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.connections = 0

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def text_of(message: EmailMessage) -> str:
    """The plain-text body of a received message."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def links_in(message: EmailMessage) -> list[str]:
    """Every http(s) link in the text body, in order."""
    return re.findall(r"https?://\S+", text_of(message))
