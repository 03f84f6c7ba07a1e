"""Signing in: checking an email and password, throttling failed attempts, and opening
a sign-in session (``sessions.open_session``) for the person.

The throttle is a counter per email (known or not) in ``login_throttle``. Each attempt
takes a slot in one conditional UPDATE *before* the password is checked, and commits it,
so attempts running at the same moment on many workers cannot all read "9 failures" and
all go on to the verifier: at most ``SCLERO_LOGIN_MAX_FAILURES`` attempts reach it per
``SCLERO_LOGIN_WINDOW`` (checklist A3). A successful sign-in gives its slot back. The
lock ends by itself when the window does, and a password reset still works meanwhile
(checklist A4), so an attacker cannot lock someone out for good.

Failed sign-ins and the moment an email becomes locked are audit events
(``audit.security_event``); for an email with no account the detail holds a prefix of
its keyed hash, never the email or the typed password.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from app.extensions import db
from app.models import LoginThrottle
from app.models import User
from app.principal import Principal
from app.security import email_key
from app.security import normalise_email
from app.security import verify_password
from app.services.accounts.sessions import open_session
from app.services.accounts.sessions import signed_in
from app.services.audit import security_event
from app.services.errors import BadCredentials
from app.services.errors import LoginThrottled


def authenticate(email: str, password: str, now: datetime, *, address: str = "") -> Principal:
    """Check credentials and open a sign-in session.

    Failures are counted per email, whether or not the account exists, so unknown and
    known emails get the same answers (checklist A3, A4).

    :param address: the client's network address, for the audit trail.
    :returns: the person now signed in, as ``login_user`` takes them (their session
        token, for the cookie, is ``get_id()``).
    :raises LoginThrottled: after too many failures in the window, even when correct.
    :raises BadCredentials: for a wrong email or password.
    """
    key = email_key(email)
    attempt = take_slot(key, now)
    if attempt is None:
        raise LoginThrottled("Too many attempts.")
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        _audit_failure(user, key, attempt, address)
        db.session.commit()
        raise BadCredentials("Email or password is not right.")
    give_slot_back(key)
    token = open_session(user, now)
    db.session.commit()
    return signed_in(token, now)


def take_slot(key: str, now: datetime) -> int | None:
    """Count one attempt for ``key`` and commit; the count including it, or None when
    the email is locked (the count is already at the cap within the window).

    Other secrets an account guards use the same counter with their own key (a
    ``kind:user_id`` key never equals an email's hex key): the second factor's codes
    and the current password on the change-password page (review R1).

    Two statements, each atomic on SQLite (3.35 or later) and PostgreSQL: create the
    row if it is missing, then raise the count only while it is under the cap or the
    window has ended (starting a new window in the same statement). PostgreSQL
    re-checks the WHERE clause after waiting for another attempt's row lock, and
    SQLite runs one writer at a time, so the cap holds however many attempts race.
    """
    table = LoginThrottle.__table__
    postgres = db.session.get_bind().dialect.name == "postgresql"
    insert = (postgresql.insert if postgres else sqlite.insert)(table)
    db.session.execute(
        insert.values(email_key=key, failures=0, window_start=now).on_conflict_do_nothing(
            index_elements=["email_key"]
        )
    )
    ended = table.c.window_start < now - current_app.config["SCLERO_LOGIN_WINDOW"]
    counted = db.session.execute(
        sa.update(table)
        .where(
            table.c.email_key == key,
            sa.or_(table.c.failures < current_app.config["SCLERO_LOGIN_MAX_FAILURES"], ended),
        )
        # Both right-hand sides read the row as it was before this statement.
        .values(
            failures=sa.case((ended, 1), else_=table.c.failures + 1),
            window_start=sa.case((ended, now), else_=table.c.window_start),
        )
        .returning(table.c.failures)
    ).scalar()
    db.session.commit()
    return counted


def give_slot_back(key: str) -> None:
    """Undo this attempt's count (with the sign-in's commit), and drop the row once
    nothing is counted in it, so the table does not keep a row per account.

    Only this attempt's slot, not the whole count: the owner signing in while someone
    else is guessing must not hand the guesser a fresh set of tries. The UPDATE holds
    the row until the commit, so the DELETE sees no other attempt's count half-made.
    """
    table = LoginThrottle.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.email_key == key, table.c.failures > 0)
        .values(failures=table.c.failures - 1)
    )
    db.session.execute(sa.delete(table).where(table.c.email_key == key, table.c.failures <= 0))


def _audit_failure(user: User | None, key: str, attempt: int, address: str) -> None:
    """A failed sign-in, and a lockout when it was the last try the window allows."""
    if user is None:
        who = dict(clinic_id=None, user_id=None, name="")
        # Never the typed email: it may be someone's real address mistyped, or a password
        # typed into the wrong box. A prefix of its keyed hash links repeats together.
        detail = f"no such account (email key {key[:12]})"
    else:
        who = dict(clinic_id=user.clinic_id, user_id=user.id, name=user.name)
        detail = "wrong password" if user.is_active else "account deactivated"
    security_event("signin_failed", address, detail, **who)
    limit = current_app.config["SCLERO_LOGIN_MAX_FAILURES"]
    if attempt == limit:
        window = current_app.config["SCLERO_LOGIN_WINDOW"]
        minutes = int(window.total_seconds() // 60)
        security_event(
            "signin_locked",
            address,
            f"{limit} failed sign-ins: locked for up to {minutes} minutes",
            **who,
        )
