"""A patient's reminder emails: their choice on the Reminders page, and the one-click
unsubscribe link that needs no sign-in.

Three choices (``CHOICES``):

* ``auto`` (no row, the default): push on the devices that have it on; by email when no
  device does (an iPhone without the app on its Home Screen gets no push at all).
* ``email``: the day's email digest instead of push.
* ``off``: no reminder emails (what the unsubscribe link sets). Push still works.

A hard bounce of a reminder digest (``bounces``) pauses reminder emails to the patient
(``paused_since``): sending the next day's digest to an address that does not exist
only earns the server a bad name. The pause is derived, nothing is stored for it: it
holds while the newest bounced digest is newer than the patient's email settings
(``EmailPreference.updated_at``), which choosing on the Reminders page and a change of
the account's email (``address_changed``) both move on. Push is not affected.

The unsubscribe token is the patient's id signed with the app's secret key (itsdangerous,
its own salt): nothing to store, nothing to expire, and it only ever turns emails off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from app.extensions import db
from app.models import Channel
from app.models import EmailPreference
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.principal import Principal
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.notify.email_content import absolute

CHOICES = ("auto", "email", "off")
UNSUBSCRIBE_PATH = "/email/unsubscribe/"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sclero-unsubscribe")


def unsubscribe_url(patient_id: int) -> str:
    """The patient's one-click unsubscribe link."""
    return absolute(UNSUBSCRIBE_PATH + str(_serializer().dumps(patient_id)))


def _patient_of(token: str) -> int | None:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    # Only ids a database column can hold: a bigger number was a 500 from the driver
    # (reachable only with the secret key, but a link must never be a server error).
    return value if 0 < value < 2**31 else None


def check_unsubscribe(token: str) -> None:
    """:raises NotFound: the link is not one of ours (or its patient is gone)."""
    patient_id = _patient_of(token)
    if patient_id is None or db.session.get(Patient, patient_id) is None:
        raise NotFound("This link is not valid.")


def unsubscribe(token: str, now: datetime) -> None:
    """Turn reminder emails off for the link's patient, and commit. Repeating it is
    harmless (the first time is kept). :raises NotFound: as ``check_unsubscribe``."""
    check_unsubscribe(token)
    patient_id = _patient_of(token)
    assert patient_id is not None
    pref = _row(patient_id, now)
    pref.reminders_by_email = False
    pref.unsubscribed_at = pref.unsubscribed_at or now
    pref.updated_at = now
    db.session.commit()


def _row(patient_id: int, now: datetime) -> EmailPreference:
    pref = db.session.get(EmailPreference, patient_id)
    if pref is None:
        pref = EmailPreference(patient_id=patient_id, updated_at=now)
        db.session.add(pref)
    return pref


@dataclass(frozen=True)
class EmailChoice:
    choice: str  # one of CHOICES
    address: str


def choice_of(pref: EmailPreference | None) -> str:
    if pref is None:
        return "auto"
    if pref.unsubscribed_at is not None:
        return "off"
    return "email" if pref.reminders_by_email else "auto"


def email_choice(user: Principal) -> EmailChoice:
    """The patient's current choice and the address emails go to."""
    if user.patient is None:
        raise NotFound("Not a patient account.")
    return EmailChoice(choice_of(db.session.get(EmailPreference, user.patient.id)), user.email)


def set_email_choice(user: Principal, choice: str, now: datetime) -> None:
    """Save the patient's choice (``CHOICES``), and commit."""
    if user.patient is None:
        raise NotFound("Not a patient account.")
    if choice not in CHOICES:
        raise Invalid("channel", "Choose how you would like your reminders.")
    pref = _row(user.patient.id, now)
    pref.reminders_by_email = choice == "email"
    pref.unsubscribed_at = now if choice == "off" else None
    pref.updated_at = now
    db.session.commit()


def address_changed(patient_id: int, now: datetime) -> None:
    """The patient's email address changed: a pause after a bounce ends; no commit."""
    _row(patient_id, now).updated_at = now


def _bounced_digests():
    return (
        OutboxMessage.channel == Channel.EMAIL,
        OutboxMessage.kind == "digest",
        OutboxMessage.state == OutboxState.FAILED,
        OutboxMessage.last_error.like("bounced: 5%"),
    )


def last_bounce(patient_id: sa.ColumnElement[int]) -> sa.ScalarSelect:
    """A column: when the patient's newest bounced digest was reported (``available_at``
    of a failed row is when it failed), or NULL; to add to a query over patients."""
    return (
        sa.select(sa.func.max(OutboxMessage.available_at))
        .where(OutboxMessage.patient_id == patient_id, *_bounced_digests())
        .scalar_subquery()
    )


def is_paused(bounced_at: datetime | None, settings_changed_at: datetime | None) -> bool:
    """Paused: a digest bounced after the patient's last email choice or address change."""
    return bounced_at is not None and (
        settings_changed_at is None or bounced_at > settings_changed_at
    )


def paused_since(patient_ids: Iterable[int]) -> dict[int, datetime]:
    """Patients whose reminder emails are paused by a hard bounce, with its time; one
    query."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    bounced = (
        sa.select(OutboxMessage.patient_id, sa.func.max(OutboxMessage.available_at).label("at"))
        .where(OutboxMessage.patient_id.in_(ids), *_bounced_digests())
        .group_by(OutboxMessage.patient_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(bounced.c.patient_id, bounced.c.at, EmailPreference.updated_at).outerjoin(
            EmailPreference, EmailPreference.patient_id == bounced.c.patient_id
        )
    )
    return {pid: at for pid, at, changed in rows if is_paused(at, changed)}
