"""The language each claimed outbox row is written in (issue 19 point 4).

Pushes and emails are built by the dispatcher, outside any request, so the reader's
locale cannot come from a signed-in user: a patient's row is in the patient's chosen
language (their clinic's locale if they chose none; read with their quiet hours,
``recipients.PatientQuiet``), a row to a user account in the patient's language if the
account is a patient's, else in the clinic's locale (app/i18n.py:locale_for). A batch
of patients' reminders costs no query; rows to accounts cost one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from app.extensions import db
from app.i18n import DEFAULT_LOCALE
from app.i18n import force_locale
from app.i18n import locale_for
from app.models import Clinic
from app.models import Patient
from app.models import User
from app.services.notify.outbox import ClaimedMessage
from app.services.notify.recipients import PatientQuiet

T = TypeVar("T")


def locales_of(rows: list[ClaimedMessage], patients: dict[int, PatientQuiet]) -> dict[int, str]:
    """Each row's locale by row id ("es", "en_GB", ...); ``patients`` as
    ``recipients_of`` read them for the same rows."""
    users = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
    by_user: dict[int, str] = {}
    if users:
        query = (
            sa.select(User.id, Patient.language, Clinic.locale)
            .join(Clinic, Clinic.id == User.clinic_id)
            .outerjoin(Patient, Patient.user_id == User.id)
            .where(User.id.in_(sorted(users)))
        )
        by_user = {uid: locale_for(lang or "", loc) for uid, lang, loc in db.session.execute(query)}
    found: dict[int, str] = {}
    for row in rows:
        if row.recipient_user_id is not None:
            found[row.id] = by_user.get(row.recipient_user_id, DEFAULT_LOCALE)
        else:
            quiet = patients.get(row.patient_id or 0)
            found[row.id] = quiet.locale if quiet is not None else DEFAULT_LOCALE
    return found


def written_in(locale: str | None, build: Callable[..., T], *args: object) -> T:
    """``build(*args)`` with its words in ``locale`` (the default locale if None)."""
    with force_locale(locale or DEFAULT_LOCALE):
        return build(*args)
