"""Late bounces: delivery status notifications (DSN, RFC 3464) about emails we sent.

An SMTP server that took an email ("250 OK") may still fail to deliver it, and then
sends a report back to the envelope sender: a ``multipart/report;
report-type=delivery-status`` message holding a ``message/delivery-status`` part (who,
``Status``, ``Diagnostic-Code``) and usually the original message or its headers. The
MTA hands such a message to ``flask mail bounce`` (app/cli_mail.py), which calls
``record_bounce`` here.

* The original Message-ID ``<outbox-ID@host>`` (``email_content.message_id``) names the
  outbox row; it is looked for in the returned message or headers part, then in
  ``In-Reply-To`` / ``References``. The host must be ours (``SCLERO_BASE_URL``'s): a
  report about someone else's mail changes nothing.
* A permanent failure (Status 5.x.x) fails the row even though it was sent:
  ``bounced: 5.1.1 <diagnostic>``, the time of the report in ``available_at`` (as for
  other failures). Only a ``sent`` row changes: the same report twice, or a report about
  a row already failed, changes nothing.
* A delay (Status 4.x.x) is only noted in ``last_error`` of a row still ``sent``; its
  state stays ``sent`` (the receiving server keeps trying on its own).

Nothing here raises on what arrives: every message ends in a one-line ``Outcome``. It is
a system action, not a person's: each outcome is one line in the app log (logger
``app.services.notify.bounces``) with the outbox id and status, not the address.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header
from email.message import Message

import sqlalchemy as sa

from app.extensions import db
from app.models import Channel
from app.models import OutboxMessage
from app.models import OutboxState
from app.services.notify.email_content import mail_host

log = logging.getLogger(__name__)

# Reports are small; the original message attached may not be. Only this much is parsed
# (the report part comes first in every MTA's DSN we know of).
MAX_BYTES = 1_000_000
BOUNCED = "bounced: "
DELAYED = "delayed: "

_OUR_ID = re.compile(r"<outbox-(\d{1,12})@([^<>\s@]{1,255})>", re.IGNORECASE)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Outcome:
    """What became of one report: ``bounced``, ``delayed``, ``unchanged`` or ``ignored``,
    and a one-line note for the MTA's log."""

    result: str
    note: str
    outbox_id: int | None = None


@dataclass(frozen=True)
class Report:
    """The parts of a DSN we use."""

    outbox_ids: list[int]
    status: str  # "5.1.1"; "" when the report had none we could read
    diagnostic: str
    action: str


def _text(value: object) -> str:
    """A header or field as plain printable text, whatever bytes it came with."""
    if value is None:
        return ""
    try:
        parts = decode_header(str(value)) if not isinstance(value, str) else [(value, None)]
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, bytes):
                try:
                    chunk = chunk.decode(charset or "utf-8", "replace")
                except LookupError:  # an unknown charset name
                    chunk = chunk.decode("utf-8", "replace")
            out.append(chunk)
        text = "".join(out)
    except Exception:  # noqa: BLE001 - any odd header is just unreadable text
        text = repr(value)
    # Bytes the parser kept as surrogates (non-ASCII in a raw header) become U+FFFD.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _our_ids(values: list[str], host: str) -> list[int]:
    found = []
    for value in values:
        for number, their_host in _OUR_ID.findall(value):
            if their_host.lower() == host and int(number) < 2**31:
                found.append(int(number))
    return found


def _header_values(msg: Message, *names: str) -> list[str]:
    return [_text(v) for name in names for v in (msg.get_all(name) or [])]


def _field_blocks(part: Message) -> list[Message]:
    """The blocks of a message/delivery-status part (per message, then per recipient)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # not split by the parser (odd line breaks)
        blocks = re.split(r"\r?\n\s*\r?\n", payload)
        return [email.message_from_string(b.strip() + "\n") for b in blocks if b.strip()]
    return []


def _original_headers(msg: Message) -> list[Message]:
    """The returned message (message/rfc822) or its headers (text/rfc822-headers)."""
    found: list[Message] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list):
                found.extend(p for p in payload if isinstance(p, Message))
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True) or b""
            found.append(email.message_from_bytes(raw))
    return found


def parse(raw: bytes, host: str) -> Report | None:
    """The report in ``raw`` about one of our emails, or None when there is none."""
    msg = email.message_from_bytes(raw[:MAX_BYTES])
    blocks: list[Message] = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks.extend(_field_blocks(part))
    if not blocks:
        return None
    ids: list[int] = []
    for original in _original_headers(msg):
        ids += _our_ids(_header_values(original, "Message-ID"), host)
    if not ids:
        ids = _our_ids(_header_values(msg, "In-Reply-To", "References"), host)
    return _worst(ids, blocks)


def _worst(ids: list[int], blocks: list[Message]) -> Report:
    """Per-recipient blocks carry Action/Status; our emails have one recipient each, so
    the worst one counts (a failure before a delay)."""
    best: tuple[int, str, str, str] | None = None
    for block in blocks:
        action = _text(block.get("Action")).lower()
        status_match = _STATUS.search(_text(block.get("Status")))
        if status_match is None and action not in ("failed", "delayed"):
            continue
        if status_match is not None:
            status = status_match.group(0)
        else:  # a report without a readable Status: trust its Action
            status = "5.0.0" if action == "failed" else "4.0.0"
        rank = {"5": 2, "4": 1}.get(status[0], 0)
        diagnostic = _text(block.get("Diagnostic-Code"))
        if best is None or rank > best[0]:
            best = (rank, status, diagnostic, action)
    if best is None:
        return Report(ids, "", "", "")
    return Report(ids, best[1], best[2], best[3])


def error_text(prefix: str, status: str, diagnostic: str) -> str:
    """``bounced: 5.1.1 <diagnostic>``, at most what the column holds (200)."""
    # "smtp; 550 ..." says only which kind of code follows.
    diagnostic = re.sub(r"^(smtp|x-[\w-]+)\s*;\s*", "", diagnostic, flags=re.IGNORECASE)
    return f"{prefix}{status} {diagnostic}".strip()[:200]


def record_bounce(raw: bytes, now: datetime) -> Outcome:
    """Record one DSN (the raw message), and commit. Never raises on odd input."""
    try:
        report = parse(raw, mail_host())
    except Exception as exc:  # noqa: BLE001 - garbage must not make the MTA retry
        outcome = Outcome("ignored", f"ignored: could not read the message ({type(exc).__name__})")
    else:
        outcome = _apply(report, now)
    log.info("mail bounce: %s", outcome.note)
    return outcome


def _apply(report: Report | None, now: datetime) -> Outcome:
    if report is None:
        return Outcome("ignored", "ignored: not a delivery status report")
    if not report.outbox_ids:
        return Outcome("ignored", "ignored: not about an email sent by this app")
    if not report.status or report.status[0] not in "45":
        return Outcome("ignored", f"ignored: no failure or delay reported ({report.status})")
    row_id = report.outbox_ids[0]
    row = db.session.get(OutboxMessage, row_id)
    if row is None or row.channel != Channel.EMAIL:
        db.session.rollback()
        return Outcome("ignored", f"ignored: no email {row_id} in the outbox", row_id)
    if report.status[0] == "5":
        values = dict(
            state=OutboxState.FAILED,
            available_at=now,
            last_error=error_text(BOUNCED, report.status, report.diagnostic),
            secret=None,
        )
        result = "bounced"
    else:
        values = dict(last_error=error_text(DELAYED, report.status, report.diagnostic))
        result = "delayed"
    # Conditional on the row still being "sent" (and for a delay, not already noted), so
    # a repeated report, or one racing another, changes it at most once.
    conditions = [OutboxMessage.id == row_id, OutboxMessage.state == OutboxState.SENT]
    if result == "delayed":
        conditions.append(OutboxMessage.last_error != values["last_error"])
    done = db.session.execute(
        sa.update(OutboxMessage)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not done:
        return Outcome("unchanged", f"unchanged: email {row_id} ({report.status})", row_id)
    return Outcome(result, f"{result}: email {row_id} ({report.status})", row_id)
