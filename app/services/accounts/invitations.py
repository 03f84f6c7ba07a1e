"""Invitations: the single-use link a patient or member of staff gets to set their
password and sign in.

The same link serves a first invitation and a "new sign-in link" for someone who lost
their password: using it sets the password and ends the account's other sessions. A
deactivated account's links do not work (deactivating also marks them used).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import Invitation
from app.models import PasswordReset
from app.models import User
from app.principal import Principal
from app.security import hash_password
from app.security import new_token
from app.security import token_hash
from app.services.accounts.devices import forget_devices
from app.services.accounts.link_notice import link_used
from app.services.accounts.passwords import check_new_password
from app.services.accounts.sessions import open_session
from app.services.accounts.sessions import revoke_all
from app.services.accounts.sessions import signed_in
from app.services.audit import security_event
from app.services.errors import InvitationUnusable


def issue_invitation(user: User, created_by: Principal | None, now: datetime) -> str:
    """A new single-use link token for an account; earlier unused links stop working.

    The caller commits (this is part of a larger use-case).
    """
    db.session.execute(
        sa.update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    ttl = current_app.config["SCLERO_INVITE_TTL"]
    db.session.add(
        Invitation(
            token_hash=token_hash(token),
            user=user,
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def claim_link(model: type[Invitation] | type[PasswordReset], row_id: int, now: datetime) -> None:
    """Mark a single-use link (an invitation or a reset) used, once.

    A conditional UPDATE, so a double submit or two tabs can use it only once.

    :raises InvitationUnusable: ``used``, when another request claimed it first (the
        transaction is rolled back).
    """
    claimed = db.session.execute(
        sa.update(model).where(model.id == row_id, model.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationUnusable("used")


def usable_invitation(token: str, now: datetime) -> Invitation:
    """The invitation behind a link, if it can still be used.

    :raises InvitationUnusable: reason ``unknown``, ``used`` or ``expired``.
    """
    inv = db.session.scalar(sa.select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if inv is None:
        raise InvitationUnusable("unknown")
    if inv.used_at is not None:
        raise InvitationUnusable("used")
    if now >= inv.expires_at:
        raise InvitationUnusable("expired")
    if not inv.user.is_active:
        # Said as "unknown": the page need not tell a stranger the account exists.
        raise InvitationUnusable("unknown")
    return inv


def accept_invitation(
    token: str, password: str, confirm: str, now: datetime, *, address: str = ""
) -> Principal:
    """Set the password from an invitation and sign the account's owner in.

    The invitation is claimed with a conditional UPDATE, so a double submit or two
    tabs can use it only once.

    :returns: the person now signed in, as ``login_user`` takes them.
    :raises InvitationUnusable: checked first, before the password (reason as
        ``usable_invitation``), and again if another request claimed it meanwhile.
    :raises Invalid: for a password breaking the rules or a confirmation not the same.
    """
    inv = usable_invitation(token, now)
    check_new_password(password, confirm, email=inv.user.email, name=inv.user.name)
    claim_link(Invitation, inv.id, now)
    user = inv.user
    # Using a link that replaces a password is how an account is taken over: on the
    # trail, with the address it came from (issue 18 point 2), never the password.
    replaced = user.password_hash is not None
    security_event(
        "sign-in link used",
        address,
        "password replaced; all sessions ended" if replaced else "first password set",
        clinic_id=user.clinic_id,
        user_id=user.id,
        name=user.name,
    )
    link_used(user, now)  # a replaced password is told on the start page (issue 18)
    user.password_hash = hash_password(password)
    # A new password ends every other session of this account (checklist A8).
    revoke_all(user, now)
    forget_devices(user.id, now)  # a lost phone's PIN must not outlive a new link
    session_token = open_session(user, now)
    db.session.commit()
    return signed_in(session_token, now)
