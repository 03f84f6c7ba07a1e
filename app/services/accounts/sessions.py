"""Sign-in sessions: opening one, finding the person behind a session cookie on each
request, and signing out. Checking a password (and throttling) is in ``signin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.extensions import reads
from app.models import AuthSession
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.models import User
from app.models.user import MfaSecret
from app.models.user import TrustedDevice
from app.principal import ClinicInfo
from app.principal import PatientInfo
from app.principal import Principal
from app.security import new_token
from app.security import token_hash

# Refresh last_seen_at at most this often, so a page view is not also a write. The idle
# check reads last_seen_at, which lags real activity by up to this much: a minute keeps
# it precise (14 minutes idle on a 15-minute limit is never refused; 16 always is).
_SEEN_EVERY_SECONDS = 60


def signed_in(token: str, now: datetime) -> Principal:
    """The person behind a session just opened and committed (by sign-in or accepting
    an invitation): read back as every later request reads it."""
    principal = user_for_session(token, now)
    # Opened at ``now`` for an active account, so it is live: never None here.
    if principal is None:
        raise RuntimeError("A sign-in session just opened is not live.")
    return principal


def open_session(user: User, now: datetime) -> str:
    """Add a new sign-in session for the user (no commit); returns its cookie token.

    It owes a second factor when the account has one, or must enrol one (issue 18)."""
    token = new_token()
    db.session.add(
        AuthSession(
            token_hash=token_hash(token),
            user=user,
            created_at=now,
            last_seen_at=now,
            authenticated_at=now,  # a fresh sign-in (app/fresh.py, checklist A9)
            mfa_pending=_second_factor_owed(user),
        )
    )
    return token


def _second_factor_owed(user: User) -> str:
    """ "code" for an enrolled account, "enrol" for staff when the clinic requires a
    second factor and they have none, else "" (patients are never forced)."""
    enrolled = db.session.scalar(
        sa.select(MfaSecret.confirmed_at).where(MfaSecret.user_id == user.id)
    )
    if enrolled is not None:
        return "code"
    if user.is_clinician and current_app.config["SCLERO_STAFF_MFA_REQUIRED"]:
        return "enrol"
    return ""


_SESSION_QUERY = (
    sa.select(
        AuthSession.id.label("session_id"),
        AuthSession.created_at.label("session_created_at"),
        AuthSession.last_seen_at,
        AuthSession.revoked_at,
        AuthSession.mfa_pending,
        User.id,
        User.email,
        User.name,
        User.role,
        User.is_active,
        Clinic.id.label("clinic_id"),
        Clinic.name.label("clinic_name"),
        Clinic.phone,
        Clinic.emergency_number,
        Clinic.opening_hours,
        Clinic.out_of_hours,
        Clinic.timezone.label("clinic_timezone"),
        Clinic.hours,
        Clinic.out_of_hours_name,
        Clinic.out_of_hours_phone,
        Clinic.default_protocol_key,
        Clinic.locale,
        Patient.id.label("patient_id"),
        Patient.timezone,
        Patient.quiet_start,
        Patient.quiet_end,
        Patient.discharged_at,
        Patient.language,
        # A patient's sessions come along (one row each): every patient page needs them.
        Treatment.id.label("treatment_id"),
        Treatment.status,
        Treatment.appointment_at,
        Treatment.treated_at,
        Treatment.protocol_version_id,
        ProtocolVersion.sha256,
    )
    .join(User, User.id == AuthSession.user_id)
    .join(Clinic, Clinic.id == User.clinic_id)
    .outerjoin(Patient, Patient.user_id == User.id)
    .outerjoin(Treatment, Treatment.patient_id == Patient.id)
    .outerjoin(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
    .where(AuthSession.token_hash == sa.bindparam("token_hash"))
    .order_by(Treatment.appointment_at, Treatment.id)
)


def user_for_session(token: str, now: datetime, active: bool = True) -> Principal | None:
    """The person behind a live sign-in session, or None if revoked, idle or unknown.

    One SELECT, which for a patient also reads the course's sessions; an UPDATE of
    ``last_seen_at`` only every few minutes.
    """
    # Core execution of a statement built once: this runs on every request.
    rows = reads().execute(_SESSION_QUERY, {"token_hash": token_hash(token)}).all()
    row = rows[0] if rows else None
    if row is None or row.revoked_at is not None or not row.is_active:
        return None
    if _expired(row, now):
        _touch(row.session_id, revoked_at=now)
        return None
    # ``active=False``: a page refreshing itself, which must not postpone the idle limit.
    if active and (now - row.last_seen_at).total_seconds() > _SEEN_EVERY_SECONDS:
        _touch(row.session_id, last_seen_at=now)
    clinic = ClinicInfo(
        row.clinic_id,
        row.clinic_name,
        row.phone,
        row.emergency_number,
        row.opening_hours,
        row.out_of_hours,
        row.clinic_timezone,
        row.hours,
        row.out_of_hours_name,
        row.out_of_hours_phone,
        row.default_protocol_key,
        row.locale,
    )
    patient = None
    if row.patient_id is not None:
        sessions = tuple(
            (
                r.treatment_id,
                r.status,
                r.appointment_at,
                r.treated_at,
                r.protocol_version_id,
                r.sha256,
            )
            for r in rows
            if r.treatment_id is not None
        )
        patient = PatientInfo(
            row.patient_id,
            row.timezone,
            row.quiet_start,
            row.quiet_end,
            sessions,
            row.discharged_at,
            row.language,
        )
    return Principal(
        row.id,
        row.email,
        row.name,
        row.role,
        clinic,
        patient,
        row.session_id,
        token,
        row.mfa_pending,
    )


@dataclass(frozen=True)
class SessionOwner:
    """Who opened a sign-in session, and the clinic's emergency number."""

    user_id: int
    emergency_number: str


def session_owner(token: str | None) -> SessionOwner | None:
    """The person who opened the session behind ``token``, whether it is still live or
    not (idle, past its limit, revoked), or None for no such session.

    Never a way in: it only says whose form arrived after the sign-in ended, so what
    they sent can be given back to them alone once they sign in again (a check-in sent
    after the idle sign-out, app/patient/held.py).
    """
    if not token:
        return None
    row = db.session.execute(
        sa.select(User.id, Clinic.emergency_number)
        .join(AuthSession, AuthSession.user_id == User.id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    return SessionOwner(row.id, row.emergency_number) if row else None


def _expired(row: sa.Row, now: datetime) -> bool:
    """Whether a session is past its idle or its absolute limit (security checklist A7):
    staff 15 minutes idle, patients 30, everyone 12 hours after sign-in however active.
    A patient's way back in after that is the remembered phone's PIN (``devices``)."""
    kind = "CLINICIAN" if row.role in (Role.CLINICIAN, Role.CLINIC_ADMIN) else "PATIENT"
    config = current_app.config
    return (
        now - row.last_seen_at > config[f"SCLERO_{kind}_IDLE"]
        or now - row.session_created_at > config[f"SCLERO_{kind}_ABSOLUTE"]
    )


def _touch(session_id: int, **values: datetime) -> None:
    db.session.execute(sa.update(AuthSession).where(AuthSession.id == session_id).values(**values))
    db.session.commit()


def end_session(token: str | None, now: datetime) -> None:
    """Revoke a sign-in session (logout). Unknown tokens are ignored.

    Push subscriptions confirmed in this session go too: the phone may be shared, and
    the next person must not get this patient's reminders.
    """
    if not token:
        return
    this_session = AuthSession.token_hash == token_hash(token)
    session_ids = sa.select(AuthSession.id).where(this_session)
    db.session.execute(
        sa.delete(PushSubscription).where(PushSubscription.auth_session_id.in_(session_ids))
    )
    _revoke(this_session, now)
    db.session.commit()


def replace_session(old_token: str, new: Principal, now: datetime) -> None:
    """A sign-in on a browser that held another session: the old one ends on the server.

    Another person's session ends as a sign-out would (its push devices go: the next
    person must not get those reminders). The same person's devices move to the new
    session instead: signing in again on one's own phone must not silently stop its
    reminders.
    """
    old = db.session.scalar(
        sa.select(AuthSession).where(AuthSession.token_hash == token_hash(old_token))
    )
    if old is None or old.id == new.session_id:
        return
    if old.user_id == new.id:
        db.session.execute(
            sa.update(PushSubscription)
            .where(PushSubscription.auth_session_id == old.id)
            .values(auth_session_id=new.session_id)
        )
        db.session.commit()
    end_session(old_token, now)


def revoke_all(user: User, now: datetime) -> None:
    """Mark every live sign-in session of the user revoked (no commit).

    Their trusted devices go too (issue 18): a new password, or a deactivated account,
    must pass the second factor again everywhere."""
    _revoke(AuthSession.user_id == user.id, now)
    db.session.execute(sa.delete(TrustedDevice).where(TrustedDevice.user_id == user.id))


def _revoke(which: sa.ColumnElement[bool], now: datetime) -> None:
    """Mark the matching live sign-in sessions revoked (no commit)."""
    db.session.execute(
        sa.update(AuthSession).where(which, AuthSession.revoked_at.is_(None)).values(revoked_at=now)
    )
