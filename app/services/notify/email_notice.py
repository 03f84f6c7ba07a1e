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
