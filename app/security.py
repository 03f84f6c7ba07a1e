"""Passwords, tokens and email addresses: the primitives the accounts service builds on.

The database stores only a token's SHA-256 and a password's argon2id hash. This module
imports no service and no model (app.auth.loader wires sign-in sessions into Flask-Login).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import current_app


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


# One hasher and one dummy hash per parameter set, for the life of the process. The dummy
# hash used to be made per request, which doubled the work for unknown emails (47 ms
# against 27 ms) and told an attacker which emails have accounts (checklist A4).
_HASHERS: dict[tuple[tuple[str, int], ...], PasswordHasher] = {}
_DUMMIES: dict[tuple[tuple[str, int], ...], str] = {}
_cache_lock = threading.Lock()


def _params_key() -> tuple[tuple[str, int], ...]:
    return tuple(sorted(current_app.config["SCLERO_ARGON2"].items()))


def _hasher() -> PasswordHasher:
    key = _params_key()
    hasher = _HASHERS.get(key)
    if hasher is None:
        hasher = _HASHERS.setdefault(key, PasswordHasher(**dict(key)))
    return hasher


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the configured cost, made once per process and parameter set."""
    key = _params_key()
    stored = _DUMMIES.get(key)
    if stored is None:
        # The lock keeps the first requests of a new worker from each paying for one.
        with _cache_lock:
            stored = _DUMMIES.get(key)
            if stored is None:
                stored = _DUMMIES[key] = hasher.hash(secrets.token_urlsafe(24))
    return stored


def hash_password(password: str) -> str:
    """An argon2id hash with the configured cost."""
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time on a dummy one."""
    hasher = _hasher()
    if not stored:
        # Same work for unknown emails as for known ones (security checklist A4): one
        # verification of a hash with the same cost, never a new hash.
        try:
            hasher.verify(_dummy_hash(hasher), password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
