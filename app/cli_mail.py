"""``flask mail`` commands: ``bounce`` records delivery status notifications (late
bounces) that the mail server hands over, one message on stdin, or files, or a Maildir.

Wired as a pipe alias, e.g. in /etc/aliases::

    bounces: "|/srv/sclerocare/.venv/bin/flask mail bounce"

An MTA bounces a message whose pipe exits non-zero (for a bounce, to nowhere) except
with 75 (EX_TEMPFAIL), which it retries later. So whatever the message is, this exits 0
with one line per message (app.services.notify.bounces says what is recorded); only when
the database cannot be reached does it exit 75, so the report is kept and tried again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from app.clock import now
from app.services.notify.bounces import MAX_BYTES
from app.services.notify.bounces import record_bounce

EX_TEMPFAIL = 75  # sysexits.h: "try again later", as Postfix and Exim read it

mail_cli = AppGroup("mail", help="Email: record late bounces (delivery status notifications).")


def _read(stream: BinaryIO) -> bytes:
    """Up to ``MAX_BYTES`` of the stream, then the rest read and dropped: a pipe closed
    early makes the MTA count the delivery as failed."""
    head = stream.read(MAX_BYTES)
    while stream.read(1 << 16):
        pass
    return head


def _files(paths: tuple[str, ...]) -> list[Path]:
    """The files named; for a folder, the messages in its ``new/`` (a Maildir) or in it."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            inbox = path / "new" if (path / "new").is_dir() else path
            try:
                found.extend(sorted(p for p in inbox.iterdir() if p.is_file()))
            except OSError as exc:
                click.echo(f"{name}: ignored: could not list it ({type(exc).__name__})")
        else:
            found.append(path)
    return found


def _done(path: Path) -> None:
    """A Maildir message read: moved from new/ to cur/, as a mail reader does."""
    cur = path.parent.parent / "cur"
    if path.parent.name == "new" and cur.is_dir():
        try:
            path.rename(cur / (path.name + ":2,S"))
        except OSError:
            pass  # read again next time: recording a report twice changes nothing


@mail_cli.command("bounce")
@click.argument("files", nargs=-1, type=click.Path())
def mail_bounce(files: tuple[str, ...]) -> None:
    """Record delivery status notifications about emails this app sent.

    Reads one message from stdin, or each of FILES (a folder: the files in its new/ if it
    is a Maildir, else in it). A permanent failure (5.x.x) marks that email failed as
    "bounced"; a delay (4.x.x) is noted. Anything else is ignored. Exits 0, or 75 when
    the database cannot be reached (the mail server then tries again later).
    """
    try:
        _bounce(files)
    except SQLAlchemyError as exc:
        click.echo(f"deferred: the database could not be reached ({type(exc).__name__})")
        sys.exit(EX_TEMPFAIL)


def _bounce(files: tuple[str, ...]) -> None:
    if not files:
        try:
            raw = _read(sys.stdin.buffer)
        except OSError as exc:
            click.echo(f"ignored: could not read stdin ({type(exc).__name__})")
            return
        click.echo(record_bounce(raw, now()).note)
        return
    for path in _files(files):
        try:
            with path.open("rb") as handle:
                raw = _read(handle)
        except OSError as exc:
            click.echo(f"{path.name}: ignored: could not read it ({type(exc).__name__})")
            continue
        click.echo(f"{path.name}: {record_bounce(raw, now()).note}")
        _done(path)
