"""The email telling someone their clinic made a new sign-in link for their account
(issue 18 point 2): plain words, no link, no health details.

Queued by ``app.services.accounts.link_notice``; built here at send time, like the
other account emails in ``email_content`` (which hands rows of this kind over).
"""

from __future__ import annotations

from datetime import timedelta

from app.adapters.mail import Email
from app.domain.reminders import TITLE
from app.i18n import _
from app.services.notify.outbox import ClaimedMessage

LINK_NOTICE = "link_notice"
# Worth sending for a week: after that the person has surely signed in or called.
NOTICE_TTL = timedelta(days=7)


def notice_detail(on: str, phone: str) -> str:
    """What the outbox row keeps for the email: the date and the clinic's number."""
    return f"{on}|{phone}"[:200]


def sign_off(reply_to: str) -> str:
    """The last line of every email: where a reply goes."""
    if reply_to:
        return _("This email was sent automatically. A reply goes to your clinic.")
    return _("This email was sent automatically; replies are not read.")


def notice_email(row: ClaimedMessage, to: str, headers: dict[str, str], reply_to: str) -> Email:
    """The email for a claimed ``link_notice`` row, in the reader's language (the date
    in ``detail`` was written in it when the row was queued)."""
    on, _sep, phone = row.detail.partition("|")
    text = "\n\n".join(
        [
            _("Hello,"),
            _(
                "Your clinic made a new sign-in link for your %(app)s account on %(on)s.",
                app=TITLE,
                on=on,
            ),
            _("If you did not ask for it, call your clinic on %(phone)s.", phone=phone)
            if phone
            else _("If you did not ask for it, call your clinic."),
            _("If you asked for it, there is nothing more to do."),
            sign_off(reply_to),
        ]
    )
    return Email(
        to=to,
        subject=_("A new sign-in link for your %(app)s account", app=TITLE),
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
    """The email for a claimed ``closure`` row, in the reader's language: no health
    details, only the policy."""
    years, _sep, rest = row.detail.partition("|")
    photos, _sep, phone = rest.partition("|")
    kept = (
        _("Your photos are part of the record and are kept with it.")
        if photos == "keep"
        else _("Your photos will be deleted when your account is closed.")
    )
    text = "\n\n".join(
        [
            _("Hello,"),
            _(
                "You asked to close your %(app)s account. Your clinic will complete it soon.",
                app=TITLE,
            ),
            _(
                "When it does, your password, every signed-in device, your reminders, "
                "calendar links and this email address are removed at once. You will not "
                "get any more emails from us."
            ),
            _(
                "Your clinic must keep your clinical record (your treatments, check-ins, "
                "alerts and the clinic's notes) for %(years)s years after your account is "
                "closed, under its records policy and the law on keeping health records. "
                "Nobody can sign in to it, and it is erased when that time is over.",
                years=years,
            ),
            kept,
            _("If you did not ask for this, call your clinic on %(phone)s now.", phone=phone)
            if phone
            else _("If you did not ask for this, call your clinic now."),
            sign_off(reply_to),
        ]
    )
    return Email(
        to=to,
        subject=_("Closing your %(app)s account", app=TITLE),
        text=text + "\n",
        headers=headers,
        reply_to=reply_to,
    )
