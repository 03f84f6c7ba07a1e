"""What an email says: the day's reminder digest and the account links (invitation,
sign-in, password reset), in plain words and with no health details.

Like a push on a lock screen, an email preview is public: a digest names no treatment,
body part, date or answer, only the generic words of each reminder kind
(``app.domain.reminders.message_for``) and a link to the page. A reminder digest carries
a one-click unsubscribe (RFC 8058: ``List-Unsubscribe`` with an https link and
``List-Unsubscribe-Post``) and the same link in its text. Links are built from
``SCLERO_BASE_URL``, never from a request's Host header.

Every line is a marked message, said when the email is built, in the language the
dispatcher chose for its reader (``languages.written_in``); ``%(app)s`` is the app's name.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from flask import current_app

from app.adapters.mail import Email
from app.domain.reminders import TITLE
from app.domain.reminders import message_for
from app.i18n import N_
from app.i18n import _
from app.services.notify import email_notice
from app.services.notify.outbox import ClaimedMessage

LINK_PURPOSES = ("invite", "signin", "reset", "password_changed")

_LINKS = {
    "invite": (
        N_("Your %(app)s invitation"),
        N_(
            "Your clinic has set up %(app)s for your aftercare. Open this link to choose a "
            "password and sign in:"
        ),
        N_("The link works once. If it has run out, ask your clinic for a new one."),
    ),
    "signin": (
        N_("Your %(app)s sign-in link"),
        N_("Here is your link to sign in to %(app)s:"),
        N_("The link works once. If it has run out, ask your clinic for a new one."),
    ),
    "reset": (
        N_("Reset your %(app)s password"),
        N_(
            "Someone, we hope you, asked to reset the password of your %(app)s account. "
            "Open this link to choose a new one:"
        ),
        N_(
            "The link works once, for one hour. If you did not ask, ignore this email: "
            "your password stays as it is."
        ),
    ),
    # Issue 18: told after a change on the account page; the link is "forgot password".
    "password_changed": (
        N_("Your %(app)s password was changed"),
        N_(
            "The password of your %(app)s account was just changed, and every other device "
            "signed in to it was signed out. If this was you, there is nothing to do. If "
            "it was not, choose a new password now with this link, then call your clinic:"
        ),
        N_("Nobody from the clinic will ever ask you for your password."),
    ),
}


def absolute(path: str) -> str:
    """A path on this site as a full link, from the configured base address."""
    base = str(current_app.config["SCLERO_BASE_URL"]).rstrip("/")
    return base + path if path.startswith("/") else path


def mail_host() -> str:
    """The host our Message-IDs name (``SCLERO_BASE_URL``'s, lower case): a bounce report
    about a Message-ID at another host is not about our mail (``bounces``)."""
    return urlsplit(absolute("/")).hostname or "localhost"


def message_id(row: ClaimedMessage) -> str:
    """The same Message-ID every time a row is sent: a receiving server or mail app can
    recognise the rare repeat (a crash between the server's "250 OK" and our record)."""
    return f"<outbox-{row.id}@{mail_host()}>"


def build(row: ClaimedMessage, to: str, unsubscribe_url: str | None, reply_to: str = "") -> Email:
    """The email for a claimed email row, to ``to``; a reply goes to ``reply_to`` (the
    clinic's reply-to setting) when there is one."""
    headers = {"Message-ID": message_id(row), "Auto-Submitted": "auto-generated"}
    if row.kind == "digest":
        return replace(_digest(row, to, unsubscribe_url, headers), reply_to=reply_to)
    if row.kind == email_notice.LINK_NOTICE:  # issue 18 point 2
        return email_notice.notice_email(row, to, headers, reply_to)
    if row.kind == email_notice.CLOSURE_NOTICE:  # issue 20 point 4
        return email_notice.closure_email(row, to, headers, reply_to)
    subject, intro, after = _LINKS.get(row.kind, _LINKS["signin"])
    text = "\n\n".join(
        [
            _("Hello,"),
            _(intro, app=TITLE),
            row.secret or absolute("/login"),
            _(after),
            email_notice.sign_off(reply_to),
        ]
    )
    return Email(
        to=to, subject=_(subject, app=TITLE), text=text + "\n", headers=headers, reply_to=reply_to
    )


def _digest(
    row: ClaimedMessage, to: str, unsubscribe_url: str | None, headers: dict[str, str]
) -> Email:
    kinds = [k for k in row.detail.split(",") if k]
    lines = sorted({f"- {message_for(k)}" for k in kinds}) or [f"- {message_for('daily')}"]
    parts = [
        _("Hello,"),
        _("You have reminders from your clinic today:") + "\n" + "\n".join(lines),
        _("Open %(app)s: %(link)s", app=TITLE, link=absolute(row.link)),
        _("Your Today page always has everything you need, even without this email."),
    ]
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        parts.append(
            _(
                "You get this email because reminders by email are on for you. To stop "
                "them, open: %(link)s",
                link=unsubscribe_url,
            )
        )
    return Email(
        to=to,
        subject=_("Your %(app)s reminders for today", app=TITLE),
        text="\n\n".join(parts) + "\n",
        headers=headers,
    )
