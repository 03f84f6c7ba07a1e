"""A fresh sign-in for sensitive staff actions (issue 18, checklist A9).

A session records when its person last proved who they are
(``AuthSession.authenticated_at``: set by ``sessions.open_session`` and by
``confirm`` here). A session left open on a shared computer must not be enough to
change a role, make a sign-in link or reset someone's second factor: past
``SCLERO_FRESH_AUTH`` the person types their password again, plus a code from their
app when the account has a second factor ("Confirm it's you", app/auth/fresh.py).

Wrong tries are audited (``reauth_failed``) and counted on the session; the
``SCLERO_REAUTH_MAX_FAILURES``-th ends it, as the fifth wrong password at sign-in
locks the account (a guesser with a stolen session gets five tries, not more). A pass
is audited as ``reauth``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.i18n import N_
from app.models import AuthSession
from app.models import Patient
from app.models import User
from app.models.user import MfaSecret
from app.principal import Principal
from app.security import verify_password
from app.services.accounts.mfa import claim_step
from app.services.accounts.mfa import matching_step
from app.services.accounts.mfa import unseal
from app.services.accounts.mfa import use_recovery_code
from app.services.audit import security_event
from app.services.errors import Invalid
from app.services.errors import ServiceError


class ReauthLocked(ServiceError):
    """Too many wrong tries on "Confirm it's you": the session has been ended."""


def is_fresh(who: Principal, now: datetime) -> bool:
    """Whether ``who`` proved who they are within SCLERO_FRESH_AUTH in this session."""
    proved = db.session.scalar(
        sa.select(sa.func.coalesce(AuthSession.authenticated_at, AuthSession.created_at)).where(
            AuthSession.id == who.session_id
        )
    )
    if proved is None:
        return False
    return now - proved <= current_app.config["SCLERO_FRESH_AUTH"]


def needs_code(who: Principal) -> bool:
    """Whether "Confirm it's you" asks for a code too (the account has a second factor)."""
    confirmed = db.session.scalar(
        sa.select(MfaSecret.confirmed_at).where(MfaSecret.user_id == who.id)
    )
    return confirmed is not None


def link_replaces_password(who: Principal, patient_id: int) -> bool:
    """Whether a new sign-in link for this patient of ``who``'s clinic would replace a
    password the patient already set (a claimed account): then it needs a fresh
    sign-in. Anything else (unknown, another clinic's) is False: the invitation service
    refuses it and audits that itself."""
    claimed = db.session.scalar(
        sa.select(User.password_hash)
        .join(Patient, Patient.user_id == User.id)
        .where(Patient.id == patient_id, Patient.clinic_id == who.clinic_id)
    )
    return claimed is not None


def confirm(who: Principal, password: str, code: str, now: datetime, address: str) -> None:
    """Check the password (and code, when the account has a second factor); on success
    the session is fresh again; commit.

    :raises Invalid: a wrong password or code (counted and audited); ``field`` is
        ``password`` or ``code``.
    :raises ReauthLocked: the wrong try that reached the limit; the session is ended.
    """
    user = db.session.get(User, who.id)
    if user is None or not user.is_active:
        raise ReauthLocked("This account cannot sign in.")
    if not verify_password(user.password_hash, password or ""):
        _count_failure(who, now, address, "wrong password")
        raise Invalid("password", N_("That password is not right. Please try again."))
    if needs_code(who) and not _code_passes(who, code or "", now, address):
        _count_failure(who, now, address, "wrong code")
        raise Invalid("code", N_("That code is not right. Type the 6 digits your app shows now."))
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == who.session_id)
        .values(authenticated_at=now, reauth_failures=0)
    )
    security_event("reauth", address, "confirmed it's them", **_who(who))
    db.session.commit()


def _code_passes(who: Principal, typed: str, now: datetime, address: str) -> bool:
    typed = "".join(typed.split())
    row = db.session.get(MfaSecret, who.id)
    if row is None or row.confirmed_at is None:
        return False
    step = matching_step(unseal(row.secret), typed, now)
    # A code already used (at sign-in, say) is not accepted again: the same rule.
    if step is not None and claim_step(who.id, step):
        return True
    return len(typed.replace("-", "")) == 10 and use_recovery_code(who, typed, now, address)


def _count_failure(who: Principal, now: datetime, address: str, what: str) -> None:
    # An atomic increment: parallel guesses each count.
    failures = db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == who.session_id)
        .values(reauth_failures=AuthSession.reauth_failures + 1)
        .returning(AuthSession.reauth_failures)
    ).scalar_one()
    security_event("reauth_failed", address, f"{what} (try {failures})", **_who(who))
    if failures >= current_app.config["SCLERO_REAUTH_MAX_FAILURES"]:
        db.session.execute(
            sa.update(AuthSession)
            .where(AuthSession.id == who.session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        security_event(
            "reauth_locked", address, f"{failures} wrong tries; sign-in ended", **_who(who)
        )
        db.session.commit()
        raise ReauthLocked("Too many wrong tries.")
    db.session.commit()


def _who(who: Principal) -> dict:
    return dict(clinic_id=who.clinic_id, user_id=who.id, name=who.name)
