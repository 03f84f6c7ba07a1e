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


# --- account closure (issue 20 point 4) ---
# Sent when the patient asks to close their account: the address goes when the clinic
# completes the request, so this is the email that says what will be kept, and why.
CLOSURE_NOTICE = "closure"


def closure_detail(years: int, photos_kept: bool, phone: str) -> str:
    """What the outbox row keeps for the email: the policy and the clinic's number."""
    return f"{years}|{'keep' if photos_kept else 'delete'}|{phone}"[:200]


def closure_email(row: ClaimedMessage, to: str, headers: dict[str, str], reply_to: str) -> Email:
    """The email for a claimed ``closure`` row: no health details, only the policy."""
    years, _, rest = row.detail.partition("|")
    photos, _, phone = rest.partition("|")
    call = f"call your clinic on {phone}" if phone else "call your clinic"
    kept = (
        "Your photos are part of the record and are kept with it."
        if photos == "keep"
        else "Your photos will be deleted when your account is closed."
    )
    text = "\n\n".join(
        [
            "Hello,",
            f"You asked to close your {TITLE} account. Your clinic will complete it soon.",
            "When it does, your password, every signed-in device, your reminders, "
            "calendar links and this email address are removed at once. You will not "
            "get any more emails from us.",
            f"Your clinic must keep your clinical record (your treatments, check-ins, "
            f"alerts and the clinic's notes) for {years} years after your account is "
            "closed, under its records policy and the law on keeping health records. "
            "Nobody can sign in to it, and it is erased when that time is over.",
            kept,
            f"If you did not ask for this, {call} now.",
            "This email was sent automatically. A reply goes to your clinic."
            if reply_to
            else "This email was sent automatically; replies are not read.",
        ]
    )
    return Email(
        to=to,
        subject=f"Closing your {TITLE} account",
        text=text + "\n",
        headers=headers,
        reply_to=reply_to,
    )
