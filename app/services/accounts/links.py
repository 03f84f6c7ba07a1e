"""Sign-in links leaving the clinic: the one place that hands a link to the mail channel.

The email goes through the outbox like a reminder (``notify.enqueue_link_email``); the
link itself waits there only until it is sent, then the row forgets it.
"""

from __future__ import annotations

from datetime import datetime

from app.models import User
from app.services.notify.email_enqueue import enqueue_link_email

PURPOSES = ("invite", "signin")


def email_link(user: User, purpose: str, url: str, now: datetime) -> None:
    """Queue an email with the link to ``user`` (purpose ``invite`` or ``signin``).

    The caller commits: the email goes through the outbox, in the same transaction.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    enqueue_link_email(user, purpose, url, now)
