"""Changing a member of staff: their role, deactivating and reactivating their account.

Two rules protect the clinic from locking itself out: an admin cannot demote or
deactivate themself, and the clinic always keeps at least one active admin. The second
is a read-then-write rule, so two admins demoting each other at the same moment could
both pass it; each change therefore first takes the clinic's write lock
(``locking.lock_clinic``: ``FOR UPDATE`` on its row on PostgreSQL, the database write
lock on SQLite) and only then counts the admins that would remain.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Invitation
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.models import Role
from app.models import User
from app.principal import Principal
from app.services.accounts.sessions import revoke_all
from app.services.accounts.staff import own_staff
from app.services.accounts.staff import parse_role
from app.services.audit import audit
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_clinic

LAST_ADMIN = (
    "The clinic must keep at least one active clinic admin. Make someone else an admin first."
)


def set_role(admin: Principal, user_id: int, role: str, address: str) -> User:
    """Make a member of staff a clinician or a clinic admin (audited, before and after).

    Choosing the role they already have changes nothing and records nothing, so a
    double submit is harmless.

    :raises Invalid: on ``role``: an unknown role, demoting oneself, or the last admin.
    """
    # Whose account comes first: another clinic's staff is "not found" whatever the role.
    own_staff(admin, user_id, address, "change the role of")
    wanted = parse_role(role)
    user = _locked_staff(admin, user_id, address, "change the role of")
    if user.role == wanted:
        return user
    if wanted != Role.CLINIC_ADMIN:
        if user.id == admin.id:
            raise _refused("role", "You cannot remove your own admin role. Ask another admin.")
        _keep_an_admin(user)
    before = user.role
    user.role = wanted
    audit(admin, None, "change", address, f"role of {user.email}: {before.value} -> {wanted.value}")
    db.session.commit()
    return user


def deactivate(admin: Principal, user_id: int, now: datetime, address: str) -> User:
    """Turn an account off: it cannot sign in, and every session it has ends now.

    The sign-in check reads ``is_active`` on every request (sessions.user_for_session),
    so an open page stops working at its next request; the sessions are also revoked,
    so reactivating later does not bring an old cookie back to life. Their devices stop
    getting clinic alerts, and any unused link stops working.

    :raises Invalid: on ``active``: deactivating oneself, or the last admin.
    """
    user = _locked_staff(admin, user_id, address, "deactivate")
    if not user.is_active:
        return user
    if user.id == admin.id:
        raise _refused("active", "You cannot deactivate your own account. Ask another admin.")
    if user.role == Role.CLINIC_ADMIN:
        _keep_an_admin(user)
    user.is_active = False
    revoke_all(user, now)
    db.session.execute(sa.delete(PushSubscription).where(PushSubscription.user_id == user.id))
    db.session.execute(
        sa.update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    # Alerts and link emails still waiting for them are not sent (a row a dispatcher has
    # already claimed finishes; its devices are gone, so an alert push finds none).
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.recipient_user_id == user.id,
            OutboxMessage.state == OutboxState.PENDING,
        )
        .values(state=OutboxState.CANCELLED, secret=None, last_error="account deactivated")
        .execution_options(synchronize_session=False)
    )
    audit(admin, None, "change", address, f"{user.email}: active -> deactivated")
    db.session.commit()
    return user


def reactivate(admin: Principal, user_id: int, address: str) -> User:
    """Turn an account back on; they sign in with their password (or a new link)."""
    user = _locked_staff(admin, user_id, address, "reactivate")
    if user.is_active:
        return user
    user.is_active = True
    audit(admin, None, "change", address, f"{user.email}: deactivated -> active")
    db.session.commit()
    return user


def _locked_staff(admin: Principal, user_id: int, address: str, action: str) -> User:
    """The member of staff, read again after taking the clinic's write lock."""
    own_staff(admin, user_id, address, action)
    lock_clinic(admin.clinic_id)
    # The admin was read at the start of the request; another admin may have demoted
    # or deactivated them since. Under the lock, their own row decides.
    actor = db.session.execute(
        sa.select(User.role, User.is_active)
        .where(User.id == admin.id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if actor is None or actor.role != Role.CLINIC_ADMIN or not actor.is_active:
        db.session.rollback()
        raise NotFound("No such page.")
    user = db.session.scalar(
        sa.select(User).where(User.id == user_id).execution_options(populate_existing=True)
    )
    assert user is not None  # own_staff found it, and accounts are never deleted
    return user


def _keep_an_admin(leaving: User) -> None:
    """Refuse a change that would leave the clinic with no active admin."""
    others = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            User.clinic_id == leaving.clinic_id,
            User.role == Role.CLINIC_ADMIN,
            User.is_active.is_(True),
            User.id != leaving.id,
        )
    )
    if not others:
        raise _refused("role", LAST_ADMIN)


def _refused(field: str, message: str) -> Invalid:
    """End the transaction (releasing the clinic's lock at once) and say why."""
    db.session.rollback()
    return Invalid(field, message)
