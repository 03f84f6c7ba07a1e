"""Changing one's own password while signed in (issue 18 point 5), patients and staff.

The current password is asked again (a session left open on a shared computer must not
be enough, checklist A9). On success every OTHER sign-in session of the account ends
(this one stays), trusted devices must pass the second factor again, the change is
audited, and the person is told by email, with no health details (checklist A8). A
wrong current password is refused and audited as ``password_change_failed``; wrong ones
are limited per account like sign-ins (their own counter, so they never lock sign-in),
and remembered phones are forgotten with the old password (review R1).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from app.models import User
from app.principal import Principal
from app.security import hash_password
from app.security import verify_password
from app.services.accounts.devices import forget_devices
from app.services.accounts.mfa import forget_trusted_devices
from app.services.accounts.passwords import check_new_password
from app.services.accounts.signin import give_slot_back
from app.services.accounts.signin import take_slot
from app.services.audit import audit
from app.services.audit import security_event
from app.services.errors import Invalid
from app.services.notify.email_content import absolute
from app.services.notify.email_enqueue import enqueue_link_email


def change_password(
    who: Principal, current: str, password: str, confirm: str, now: datetime, address: str
) -> None:
    """Set a new password for the signed-in person; commit.

    :raises Invalid: ``current`` is wrong (audited), or the new password breaks the
        rules or the two differ (``field`` is ``current``, ``password`` or ``confirm``).
    """
    user = db.session.get(User, who.id)
    if user is None:
        raise Invalid("current", "Please sign in again.")
    # Counted before the check, per account, in the sign-in throttle's table: a session
    # left open, or a stolen session cookie, must not become unlimited guesses at the
    # password, which would then take the account.
    key = f"password:{user.id}"
    if take_slot(key, now) is None:
        raise Invalid(
            "current",
            "Too many wrong passwords. Please wait 15 minutes, or call your clinic for help.",
        )
    if not verify_password(user.password_hash, current):
        security_event(
            "password_change_failed",
            address,
            "wrong current password",
            clinic_id=user.clinic_id,
            user_id=user.id,
            name=user.name,
        )
        db.session.commit()
        raise Invalid("current", "That is not your current password. Please try again.")
    # The right password gives its try back at once: a weak new one refused below must
    # not use up the owner's tries.
    give_slot_back(key)
    db.session.commit()
    check_new_password(password, confirm, email=user.email, name=user.name)
    if verify_password(user.password_hash, password):
        raise Invalid("password", "That is your current password. Please choose a new one.")
    user.password_hash = hash_password(password)
    # Whoever else knew the old password is signed out everywhere else (checklist A8).
    db.session.execute(
        sa.update(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.id != who.session_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    forget_trusted_devices(user.id)
    # And every remembered phone: one remembered by whoever knew the old password would
    # otherwise open a fresh session with the PIN they chose.
    forget_devices(user.id, now)
    audit(
        who,
        who.patient.id if who.patient is not None else None,
        "password_changed",
        address,
        "password changed; other sessions ended",
    )
    if user.email:
        # The "forgot password" page: if it was not them, they can take the account back.
        enqueue_link_email(user, "password_changed", absolute("/forgot-password"), now)
    db.session.commit()
