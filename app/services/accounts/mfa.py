"""The staff second factor (issue 18 point 4): TOTP enrolment and codes, single-use
recovery codes, trusted devices, and an admin's reset.

A sign-in session that owes a second factor is "pending" (``AuthSession.mfa_pending``,
set by ``sessions.open_session``); ``user_for_session`` hands it out as a Principal that
is not authenticated, so every page but the code and enrolment pages turns it away.

The TOTP secret is stored sealed (``mfa_seal``: a database copy cannot mint codes).
Rotating SECRET_KEY keeps secrets readable while the old key is in
SECRET_KEY_FALLBACKS; re-enrol staff before removing it.

Codes: 6 digits, 30-second steps, one step either side accepted (clock drift); the last
accepted step is stored and never accepted twice (a shoulder-surfed code cannot be
replayed). Wrong codes are limited per session and per account (``pass_second_factor``).
Recovery codes are stored as SHA-256 hashes (50 random bits each, too many to guess, so
a fast hash is enough) and each works once.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from datetime import timedelta

import pyotp
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuthSession
from app.models import User
from app.models.user import MfaRecoveryCode
from app.models.user import MfaSecret
from app.models.user import TrustedDevice
from app.principal import Principal
from app.security import new_token
from app.security import token_hash
from app.services.accounts.mfa_seal import seal
from app.services.accounts.mfa_seal import unseal
from app.services.accounts.signin import give_slot_back
from app.services.accounts.signin import take_slot
from app.services.audit import audit
from app.services.audit import refuse
from app.services.audit import security_event
from app.services.errors import Invalid
from app.services.errors import ServiceError

RECOVERY_CODES = 10
_STEP_SECONDS = 30
# An enrolment not confirmed within this time starts again with a new secret.
_ENROL_WITHIN = timedelta(minutes=30)


class SecondFactorLocked(ServiceError):
    """Too many wrong codes: the pending sign-in session has been ended."""


# --- state ------------------------------------------------------------------------------


def is_enrolled(user_id: int) -> bool:
    """True when the account has a confirmed TOTP second factor."""
    confirmed = db.session.scalar(
        sa.select(MfaSecret.confirmed_at).where(MfaSecret.user_id == user_id)
    )
    return confirmed is not None


def recovery_codes_left(user_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def _clear_pending(session_id: int) -> None:
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == session_id)
        .values(mfa_pending="", mfa_failures=0)
    )


# --- enrolment --------------------------------------------------------------------------


def enrolment(who: Principal, now: datetime) -> tuple[str, str]:
    """The secret being set up for ``who`` and its ``otpauth://`` address; commit.

    The same unconfirmed secret comes back for ``_ENROL_WITHIN`` (reloading the page
    after scanning must not invalidate what the phone holds); an older one is replaced,
    so a secret once shown on a screen and never confirmed cannot be turned on later.
    :raises Invalid: the account already has a confirmed second factor.
    """
    row = db.session.get(MfaSecret, who.id)
    if row is not None and row.confirmed_at is not None:
        raise Invalid("code", "Your sign-in code is already set up.")
    if row is not None and now - row.created_at > _ENROL_WITHIN:
        db.session.delete(row)
        db.session.flush()
        row = None
    if row is None:
        row = MfaSecret(user_id=who.id, secret=seal(pyotp.random_base32()), created_at=now)
        db.session.add(row)
        try:
            db.session.commit()
        except sa.exc.IntegrityError:  # the page loaded twice at once: show the first's
            db.session.rollback()
            row = db.session.get_one(MfaSecret, who.id)
    secret = unseal(row.secret)
    # pyotp quotes the issuer and name, but a colon in the issuer would still split the
    # app's label ("issuer:account") in the wrong place.
    issuer = f"ScleroCare {who.clinic.name}".replace(":", " ")
    uri = pyotp.TOTP(secret).provisioning_uri(name=who.email, issuer_name=issuer)
    return secret, uri


def confirm_enrolment(who: Principal, code: str, now: datetime, address: str) -> list[str]:
    """Check a first code from the new secret, turn the second factor on, and return
    10 fresh recovery codes (shown once); commit. A pending "enrol" session is now
    signed in: the person has shown the password and the new factor.

    :raises Invalid: the code is not right (or there is no enrolment in progress).
    """
    row = db.session.get(MfaSecret, who.id)
    stale = row is not None and now - row.created_at > _ENROL_WITHIN
    if row is None or row.confirmed_at is not None or stale:
        raise Invalid("code", "Please start again: scan the new QR code on this page.")
    step = matching_step(unseal(row.secret), code, now)
    if step is None:
        raise Invalid("code", "That code is not right. Type the 6 digits your app shows now.")
    # Conditional, so of two submissions racing (a double tap) one turns it on and
    # makes the recovery codes; the other is refused rather than replacing them.
    confirmed = db.session.execute(
        sa.update(MfaSecret)
        .where(MfaSecret.user_id == who.id, MfaSecret.confirmed_at.is_(None))
        .values(confirmed_at=now, last_step=step)
    ).rowcount
    if confirmed != 1:
        db.session.rollback()
        raise Invalid("code", "Your sign-in code is already set up.")
    codes = _new_recovery_codes(who.id, now)
    _clear_pending(who.session_id)
    audit(who, None, "mfa_enrolled", address, "second factor set up; 10 recovery codes")
    db.session.commit()
    return codes


def regenerate_recovery_codes(who: Principal, now: datetime, address: str) -> list[str]:
    """Replace the account's recovery codes with 10 new ones (the old stop working)."""
    if not is_enrolled(who.id):
        raise Invalid("code", "Set up your sign-in code first.")
    codes = _new_recovery_codes(who.id, now)
    audit(who, None, "mfa_recovery_regenerated", address, "10 new recovery codes")
    db.session.commit()
    return codes


def _new_recovery_codes(user_id: int, now: datetime) -> list[str]:
    db.session.execute(sa.delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    # 10 characters from a 32-letter alphabet with no 0/O or 1/I: 50 bits each.
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(MfaRecoveryCode(user_id=user_id, code_hash=_code_hash(raw), created_at=now))
    return codes


def _code_hash(code: str) -> str:
    return token_hash("".join(code.lower().split()).replace("-", ""))


# --- the code at sign-in ----------------------------------------------------------------


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (one either side of now) whose code is ``code``, or None."""
    code = "".join(code.split())
    # ASCII only: compare_digest refuses other text, and "١٢٣٤٥٦" is digits to isdigit.
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // _STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * _STEP_SECONDS), code):
            return step
    return None


def pass_second_factor(who: Principal, code: str, now: datetime, address: str) -> None:
    """Check a TOTP code (or a recovery code) for a pending session; on success the
    session is signed in; commit.

    Each try is counted before the check: for this session (the 5th wrong code ends it)
    and for the account in the sign-in throttle's table (10 per window, so signing in
    again does not buy fresh guesses). Guesses sent at once cannot pass either cap.

    :raises Invalid: a wrong, reused or malformed code (counted).
    :raises SecondFactorLocked: the session's or the account's limit is reached; the
        session ended.
    """
    if who.mfa_pending != "code":
        raise Invalid("code", "There is no code to check.")
    tries = _take_try(who.session_id)
    key = f"mfa:{who.id}"  # never equal to an email's hex key in the same table
    if tries is None:
        _lock(who, now, address, "too many wrong codes; sign-in ended")
    if take_slot(key, now) is None:
        wait = "Too many wrong codes. Please wait 15 minutes, then sign in again."
        _lock(who, now, address, "too many wrong codes for this account", wait)
    row = db.session.get(MfaSecret, who.id)
    typed = "".join(code.split())
    if row is not None and row.confirmed_at is not None:
        step = matching_step(unseal(row.secret), typed, now)
        # One UPDATE that only moves forward: two requests with the same code, or a
        # code seen over a shoulder, get one success between them.
        if (step is not None and claim_step(who.id, step)) or (
            len(typed.replace("-", "")) == 10 and use_recovery_code(who, typed, now, address)
        ):
            give_slot_back(key)
            _clear_pending(who.session_id)
            db.session.commit()
            return
    _count_failure(who, tries, now, address)


def _take_try(session_id: int) -> int | None:
    """Count a try for the session and commit; its number, or None at the limit (or
    when the session has ended meanwhile)."""
    tries = db.session.execute(
        sa.update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.mfa_failures < current_app.config["SCLERO_MFA_MAX_FAILURES"],
        )
        .values(mfa_failures=AuthSession.mfa_failures + 1)
        .returning(AuthSession.mfa_failures)
    ).scalar()
    db.session.commit()
    return tries


def claim_step(user_id: int, step: int) -> bool:
    result = db.session.execute(
        sa.update(MfaSecret)
        .where(
            MfaSecret.user_id == user_id,
            sa.or_(MfaSecret.last_step.is_(None), MfaSecret.last_step < step),
        )
        .values(last_step=step)
    )
    return result.rowcount == 1


def use_recovery_code(who: Principal, typed: str, now: datetime, address: str) -> bool:
    result = db.session.execute(
        sa.update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == who.id,
            MfaRecoveryCode.code_hash == _code_hash(typed),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return False
    left = recovery_codes_left(who.id)
    security_event(
        "mfa_recovery_used",
        address,
        f"recovery code used; {left} left",
        clinic_id=who.clinic_id,
        user_id=who.id,
        name=who.name,
    )
    return True


def _count_failure(who: Principal, tries: int, now: datetime, address: str) -> None:
    event = dict(clinic_id=who.clinic_id, user_id=who.id, name=who.name)
    security_event("mfa_failed", address, f"wrong code {tries}", **event)
    if tries >= current_app.config["SCLERO_MFA_MAX_FAILURES"]:
        _lock(who, now, address, f"{tries} wrong codes; sign-in ended")
    db.session.commit()
    raise Invalid("code", "That code is not right. Type the 6 digits your app shows now.")


def _lock(who: Principal, now: datetime, address: str, detail: str, say: str = "") -> None:
    """End the pending session (audited once, by whichever try ended it); commit.

    :raises SecondFactorLocked: always.
    """
    ended = db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == who.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    if ended:
        event = dict(clinic_id=who.clinic_id, user_id=who.id, name=who.name)
        security_event("mfa_locked", address, detail, **event)
    db.session.commit()
    raise SecondFactorLocked(say or "Too many wrong codes. Please sign in again.")


def cancel_pending(who: Principal, now: datetime) -> None:
    """End a pending sign-in session (its "Cancel and sign out" button); commit."""
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == who.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.commit()


# --- trusted devices --------------------------------------------------------------------


def trust_device(who: Principal, now: datetime) -> str:
    """Remember this browser for ``SCLERO_MFA_TRUST`` (12 h); commit; returns the token
    for its cookie (the table keeps only its hash)."""
    token = new_token()
    db.session.add(
        TrustedDevice(
            token_hash=token_hash(token),
            user_id=who.id,
            created_at=now,
            expires_at=now + current_app.config["SCLERO_MFA_TRUST"],
        )
    )
    db.session.commit()
    return token


def pass_with_trusted_device(who: Principal, token: str, now: datetime) -> bool:
    """Sign a pending "code" session in if ``token`` is this person's live trusted
    device; commit. Never skips enrolment."""
    if who.mfa_pending != "code" or not token:
        return False
    found = db.session.scalar(
        sa.select(TrustedDevice.id).where(
            TrustedDevice.token_hash == token_hash(token),
            TrustedDevice.user_id == who.id,
            TrustedDevice.expires_at > now,
        )
    )
    if found is None:
        return False
    _clear_pending(who.session_id)
    db.session.commit()
    return True


def forget_trusted_devices(user_id: int) -> None:
    """Every trusted device of the account stops skipping the code (no commit)."""
    db.session.execute(sa.delete(TrustedDevice).where(TrustedDevice.user_id == user_id))


# --- an admin's reset -------------------------------------------------------------------


def reset_second_factor(actor: Principal, user_id: int, now: datetime, address: str) -> User:
    """Remove a staff member's second factor, recovery codes and trusted devices, and end
    their sessions: they enrol again at their next sign-in; audited; commit.

    :raises NotFound: not an admin, or not a staff member of the admin's clinic
        (audited as refused, as another clinic's patient is).
    """
    user = db.session.get(User, user_id)
    if not actor.is_admin or user is None or user.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"reset second factor of user #{user_id}", "No such person.")
    if not user.is_clinician:
        raise refuse(actor, address, f"reset second factor of user #{user_id}", "No such person.")
    if user.id == actor.id:
        raise Invalid("user", "Ask another clinic admin to reset your own sign-in code.")
    had = is_enrolled(user.id)
    db.session.execute(sa.delete(MfaSecret).where(MfaSecret.user_id == user.id))
    db.session.execute(sa.delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    forget_trusted_devices(user.id)
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    detail = f"{user.name} (#{user.id}): " + (
        "second factor removed; must enrol again" if had else "had none; sessions ended"
    )
    audit(actor, None, "staff_mfa_reset", address, detail)
    db.session.commit()
    return user
