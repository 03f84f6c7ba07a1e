"""Signing in: checking an email and password, throttling failed attempts, and opening
a sign-in session (``sessions.open_session``) for the person.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import LoginThrottle
from app.models import User
from app.principal import Principal
from app.security import email_key
from app.security import normalise_email
from app.security import verify_password
from app.services.accounts.sessions import open_session
from app.services.accounts.sessions import signed_in
from app.services.errors import BadCredentials
from app.services.errors import LoginThrottled


def authenticate(email: str, password: str, now: datetime) -> Principal:
    """Check credentials and open a sign-in session.

    Failures are counted per email, whether or not the account exists, so unknown and
    known emails get the same answers (checklist A3, A4).

    :returns: the person now signed in, as ``login_user`` takes them (their session
        token, for the cookie, is ``get_id()``).
    :raises LoginThrottled: after too many failures in the window, even when correct.
    :raises BadCredentials: for a wrong email or password.
    """
    key = email_key(email)
    throttle = db.session.get(LoginThrottle, key)
    window = current_app.config["SCLERO_LOGIN_WINDOW"]
    if throttle is not None and now - throttle.window_start > window:
        throttle.failures, throttle.window_start = 0, now
    if (
        throttle is not None
        and throttle.failures >= current_app.config["SCLERO_LOGIN_MAX_FAILURES"]
    ):
        db.session.commit()
        raise LoginThrottled("Too many attempts.")
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        if throttle is None:
            throttle = LoginThrottle(email_key=key, failures=0, window_start=now)
            db.session.add(throttle)
        throttle.failures += 1
        db.session.commit()
        raise BadCredentials("Email or password is not right.")
    if throttle is not None:
        db.session.delete(throttle)
    token = open_session(user, now)
    db.session.commit()
    return signed_in(token, now)
