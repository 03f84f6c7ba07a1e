"""Sign-in links leaving the clinic: the one place that hands a link to the mail channel.

The mail channel (``app.services.notify.enqueue_link_email``) is built separately; it is
imported when a link is emailed rather than with this module, so the staff pages work
(and show the link on screen) whether or not email is there yet.
"""

from __future__ import annotations

from datetime import datetime

from app.models import User

PURPOSES = ("invite", "signin")


def email_link(user: User, purpose: str, url: str, now: datetime) -> bool:
    """Queue an email with the link to ``user`` (purpose ``invite`` or ``signin``).

    The caller commits: the email goes through the outbox, in the same transaction.

    :returns: False when this installation has no mail channel, so the page can say
        the link was not emailed (it is always shown on screen as well).
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    from app.services import notify

    enqueue_link_email = getattr(notify, "enqueue_link_email", None)
    if enqueue_link_email is None:
        return False
    enqueue_link_email(user, purpose, url, now)
    return True
