"""Passwords, tokens and email addresses: the primitives the accounts service builds on.

The database stores only a token's SHA-256 and a password's argon2id hash. This module
imports no service and no model (app.auth.loader wires sign-in sessions into Flask-Login).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import current_app
from flask import g


def new_token() -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 of a token, which is what the database stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def email_key(email: str) -> str:
    """A keyed hash of a normalised email, for the throttle table."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, normalise_email(email).encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


# The longest address SMTP carries (RFC 5321's path limit, less the angle brackets).
EMAIL_MAX = 254


def is_plain_email(email: str) -> bool:
    """Whether ``email`` has the form of an address the app's email can reach.

    The form only (no DNS look-up: set-up runs offline), and no accented letters before
    the @ (SMTP without SMTPUTF8 cannot reach such a mailbox). Each caller checks the
    length first, with its own message.
    """
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def _hasher() -> PasswordHasher:
    params = current_app.config["SCLERO_ARGON2"]
    cached = g.get("_sclero_hasher")
    if cached is None:
        cached = PasswordHasher(**params)
        g._sclero_hasher = cached
    return cached


def hash_password(password: str) -> str:
    """An argon2id hash with the configured cost."""
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time on a dummy one."""
    hasher = _hasher()
    if not stored:
        # Same work for unknown emails as for known ones (security checklist A4).
        stored = g.get("_sclero_dummy") or hasher.hash("dummy password for timing")
        g._sclero_dummy = stored
        try:
            hasher.verify(stored, password + "\0")
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
