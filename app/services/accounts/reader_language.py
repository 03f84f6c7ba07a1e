"""Whose language a page read before sign-in is in (issue 19 point 4).

A sign-in link (an invitation or a password reset, usable or not) and a remembered
phone name their account: its pages (set a password, "this link has run out", the PIN)
are in that patient's chosen language, with their clinic's locale for dates
(app/i18n.py:read_as). An unknown link, or an account no longer active, names nobody:
the page then follows the browser's languages, as any page before sign-in does.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Invitation
from app.models import PasswordReset
from app.models import Patient
from app.models import User
from app.security import token_hash
from app.services.accounts.devices import device_for_token


def _of_user(user_id: sa.ColumnElement[int] | int) -> tuple[str, str] | None:
    row = db.session.execute(
        sa.select(Patient.language, Clinic.locale)
        .select_from(User)
        .join(Clinic, Clinic.id == User.clinic_id)
        .outerjoin(Patient, Patient.user_id == User.id)
        .where(User.id == user_id, User.is_active.is_(True))
    ).first()
    return (row[0] or "", row[1] or "") if row else None


def link_reader(token: str) -> tuple[str, str] | None:
    """(the patient's language, "" if none chosen; their clinic's locale) of the
    account a sign-in link names, used or run out too; None if it names nobody."""
    hashed = token_hash(token)
    for model in (Invitation, PasswordReset):
        user_id = db.session.scalar(sa.select(model.user_id).where(model.token_hash == hashed))
        if user_id is not None:
            return _of_user(user_id)
    return None


def device_reader(token: str | None, now: datetime) -> tuple[str, str] | None:
    """The same for the patient a remembered phone's cookie names, or None."""
    device = device_for_token(token, now)
    return _of_user(device.user_id) if device is not None else None
