"""The email telling someone their clinic made a new sign-in link for their account
(issue 18 point 2): plain words, no link, no health details.

Queued by ``app.services.accounts.link_notice``; built here at send time, like the
other account emails in ``email_content`` (which hands rows of this kind over).
"""

from __future__ import annotations

from datetime import timedelta

from app.adapters.mail import Email
from app.domain.reminders import TITLE
from app.services.notify.outbox import ClaimedMessage

LINK_NOTICE = "link_notice"
# Worth sending for a week: after that the person has surely signed in or called.
NOTICE_TTL = timedelta(days=7)


def notice_detail(on: str, phone: str) -> str:
    """What the outbox row keeps for the email: the date and the clinic's number."""
    return f"{on}|{phone}"[:200]


def notice_email(row: ClaimedMessage, to: str, headers: dict[str, str], reply_to: str) -> Email:
    """The email for a claimed ``link_notice`` row."""
    on, _, phone = row.detail.partition("|")
    call = f"call your clinic on {phone}" if phone else "call your clinic"
    text = "\n\n".join(
        [
            "Hello,",
            f"Your clinic made a new sign-in link for your {TITLE} account on {on}.",
            f"If you did not ask for it, {call}.",
            "If you asked for it, there is nothing more to do.",
            "This email was sent automatically. A reply goes to your clinic."
            if reply_to
            else "This email was sent automatically; replies are not read.",
        ]
    )
    return Email(
        to=to,
        subject=f"A new sign-in link for your {TITLE} account",
        text=text + "\n",
        headers=headers,
        reply_to=reply_to,
    )
