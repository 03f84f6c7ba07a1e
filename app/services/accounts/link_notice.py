"""Telling a person that their clinic made a sign-in link for their existing account.

A sign-in link for an account that already has a password replaces that password and
ends the account's sessions when used, so it could take the account over. The person
is told twice (issue 18 point 2, checklist A8):

- by email when the link is made (``tell_link_issued``): a separate message holding
  no link and no health details, so even a link only shown on the clinic's screen is
  known to its owner;
- on their start page after the link was used (``link_used`` marks it; ``take_notice``
  shows it once, then forgets it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.i18n import format_day
from app.i18n import locale_for
from app.models import Clinic
from app.models import User
from app.principal import Principal
from app.services.notify.email_enqueue import enqueue_account_email
from app.services.notify.email_notice import LINK_NOTICE
from app.services.notify.email_notice import NOTICE_TTL
from app.services.notify.email_notice import notice_detail


def _zone(user: User, clinic: Clinic) -> ZoneInfo:
    """The person's own time zone: a patient's, else their clinic's."""
    return ZoneInfo(user.patient.timezone if user.patient is not None else clinic.timezone)


def say_date(at: datetime, tz: ZoneInfo, locale: str | None = None) -> str:
    """A date as people write it, in ``locale`` (the reader's if None): "20 November
    2026", "November 20, 2026" (en_US), "20 de noviembre de 2026" (es)."""
    day = at.astimezone(tz).date()
    return format_day(day, "date", locale)


def tell_link_issued(user: User, now: datetime) -> None:
    """Queue the "your clinic made a new sign-in link" email to ``user``; no commit.

    Sent through the outbox with the change that made the link. Its own kind, so the
    dispatcher's "newest of a kind" rule never drops the link email for it, or it for
    the link email.
    """
    clinic = db.session.get(Clinic, user.clinic_id)
    # The email is written in its reader's language (app/services/notify/languages.py),
    # whoever makes the link: its date is written in it too.
    language = user.patient.language if user.patient is not None else ""
    on = say_date(now, _zone(user, clinic), locale_for(language, clinic.locale))
    detail = notice_detail(on, clinic.phone)
    enqueue_account_email(user, LINK_NOTICE, now, NOTICE_TTL, detail)


def link_used(user: User, now: datetime) -> None:
    """A link replaced this account's existing password: note it for the start page.

    The caller commits. A first invitation (no password before) needs no notice.
    """
    if user.password_hash is not None:
        user.link_notice_at = now


@dataclass(frozen=True)
class LinkNotice:
    """What the start page says once: the date of the change and whom to call."""

    on: str
    phone: str


def take_notice(person: Principal) -> LinkNotice | None:
    """The one-time notice for ``person``, if any; forgotten once taken (committed).

    The conditional UPDATE makes "once" hold for two tabs opened together.
    """
    at = db.session.scalar(sa.select(User.link_notice_at).where(User.id == person.id))
    if at is None:
        return None
    taken = db.session.execute(
        sa.update(User)
        .where(User.id == person.id, User.link_notice_at.is_not(None))
        .values(link_notice_at=None)
    ).rowcount
    db.session.commit()
    if not taken:
        return None
    tz = ZoneInfo(person.patient.timezone if person.patient else person.clinic.timezone)
    return LinkNotice(say_date(at, tz), person.clinic.phone)
