"""Self-service password reset, for patients and staff alike.

``request_reset`` queues an emailed single-use link valid for ``SCLERO_RESET_TTL`` (one
hour); it answers nothing, so the page is the same whether the email has an account
(checklist A4), and takes the same time (``SCLERO_RESET_MIN_SECONDS``, a floor: a known
email writes and commits, an unknown one only reads). At most
``SCLERO_RESET_MAX_PER_HOUR`` links per account an hour (a mail-bomb stopper); more asks
are answered the same way and send nothing. Asks from one network address, whatever the
emails, are limited before they reach this module, by Flask-Limiter on the page
(``SCLERO_RESET_ASK_LIMIT``, app/limits.py: shared by every worker, unlike the count
this module once kept per address in the sign-in throttle table); over it, the page
answers 429 and nothing is sent. A new link ends the earlier unused ones.
``reset_password`` sets the new password (the rules of ``passwords``, which also
refuse the person's own email and name), uses the link up with a conditional UPDATE
(a double submit or two tabs use it once) and ends every sign-in session of the
account. A link of an account deactivated since is refused. The token is stored only as its SHA-256
(``PasswordReset``); the emailed link leaves the outbox once sent
(``notify.email_enqueue``). Both steps are audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuditEvent
from app.models import PasswordReset
from app.models import User
from app.security import hash_password
from app.security import new_token
from app.security import normalise_email
from app.security import token_hash
from app.services.accounts.devices import forget_devices
from app.services.accounts.invitations import claim_link
from app.services.accounts.passwords import check_new_password
from app.services.accounts.sessions import revoke_all
from app.services.errors import InvitationUnusable
from app.services.notify.email_enqueue import enqueue_link_email


def request_reset(
    email: str, now: datetime, link_for: Callable[[str], str], address: str = ""
) -> None:
    """Email a reset link to the account of ``email``, if there is one; commit.

    ``link_for(token)`` is the reset page's full link for a token, made by the page from
    ``SCLERO_BASE_URL`` (``app.web.public_url``, as every emailed sign-in link is), never
    from the request's Host header, which anyone can set.
    Takes at least ``SCLERO_RESET_MIN_SECONDS`` whatever the email: a known one writes
    and commits (about 4x the time of an unknown one on PostgreSQL), and that difference
    alone would tell an attacker which emails have accounts.
    """
    started = time.monotonic()
    try:
        _request_reset(email, now, link_for, address)
    finally:
        floor = float(current_app.config.get("SCLERO_RESET_MIN_SECONDS", 0.25))
        left = floor - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)


def _request_reset(email: str, now: datetime, link_for: Callable[[str], str], address: str) -> None:
    token = new_token()
    hashed = token_hash(token)
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return
    hour_ago = now - current_app.config["SCLERO_RESET_TTL"]
    recent = db.session.scalar(
        sa.select(sa.func.count()).where(
            PasswordReset.user_id == user.id, PasswordReset.created_at > hour_ago
        )
    )
    if recent >= current_app.config["SCLERO_RESET_MAX_PER_HOUR"]:
        # Noted once an hour: a script asking again and again for one address must not
        # write an audit row per request (the table would grow without bound).
        noted = db.session.scalar(
            sa.select(AuditEvent.id)
            .where(
                AuditEvent.actor_id == user.id,
                AuditEvent.action == "password reset refused",
                AuditEvent.created_at > hour_ago,
            )
            .limit(1)
        )
        if noted is None:
            _audit(user, "password reset refused", "too many asked in an hour", address)
            db.session.commit()
        return
    db.session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    db.session.add(
        PasswordReset(
            token_hash=hashed,
            user_id=user.id,
            created_at=now,
            expires_at=now + current_app.config["SCLERO_RESET_TTL"],
        )
    )
    enqueue_link_email(user, "reset", link_for(token), now)
    _audit(user, "password reset asked", "link emailed", address)
    db.session.commit()


def usable_reset(token: str, now: datetime) -> PasswordReset:
    """The reset behind a link, if it can still be used.

    :raises InvitationUnusable: reason ``unknown``, ``used`` or ``expired`` (the same
        exception as an invitation's: both are single-use links).
    """
    row = db.session.scalar(
        sa.select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    )
    if row is None:
        raise InvitationUnusable("unknown")
    if not db.session.scalar(sa.select(User.is_active).where(User.id == row.user_id)):
        # Asked before the account was deactivated: it must not set a password that
        # would work again the day the account is re-activated.
        raise InvitationUnusable("unknown")
    if row.used_at is not None:
        raise InvitationUnusable("used")
    if now >= row.expires_at:
        raise InvitationUnusable("expired")
    return row


def reset_password(
    token: str, password: str, confirm: str, now: datetime, address: str = ""
) -> None:
    """Set a new password from a reset link and end every session of the account; commit.

    :raises InvitationUnusable: the link is unusable (checked first, and again when
        claiming it).
    :raises Invalid: the password breaks the rules, or the two are not the same.
    """
    row = usable_reset(token, now)
    user = db.session.get(User, row.user_id)
    assert user is not None
    # The person's own email and name are refused as a password (issue 18 point 5).
    check_new_password(password, confirm, email=user.email, name=user.name)
    claim_link(PasswordReset, row.id, now)
    # Any other live link of the account ends too (two asks at the same moment can
    # each leave one): a used reset must not be followed by another.
    db.session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.user_id == row.user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = hash_password(password)
    # Whoever knew the old password is signed out everywhere (checklist A8).
    revoke_all(user, now)
    forget_devices(user.id, now)  # and every remembered phone's PIN (session-lifetimes.md)
    _audit(user, "password reset", "new password set; all sessions ended", address)
    db.session.commit()


def _audit(user: User, action: str, detail: str, address: str) -> None:
    db.session.add(
        AuditEvent(
            clinic_id=user.clinic_id,
            actor_id=user.id,
            actor_name=user.name,
            patient_id=user.patient.id if user.patient is not None else None,
            action=action,
            detail=detail,
            address=address[:64],
        )
    )
