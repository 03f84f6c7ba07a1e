"""Sign-in, sign-out, throttling and invitations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.extensions import reads
from app.models import AuthSession
from app.models import Clinic
from app.models import Invitation
from app.models import LoginThrottle
from app.models import Patient
from app.models import ProtocolVersion
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.models import User
from app.principal import ClinicInfo
from app.principal import PatientInfo
from app.principal import Principal
from app.security import email_key
from app.security import hash_password
from app.security import new_token
from app.security import normalise_email
from app.security import token_hash
from app.security import verify_password
from app.services.errors import BadCredentials
from app.services.errors import Invalid
from app.services.errors import InvitationUnusable
from app.services.errors import LoginThrottled

MIN_PASSWORD = 12
MAX_PASSWORD = 128
# A short list of the most common passwords of 12+ characters; refusing them is cheap.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "password1234",
        "qwertyuiop12",
        "passwordpassword",
        "111111111111",
        "iloveyou1234",
        "123412341234",
        "abcdefghijkl",
        "qwertyuiopas",
        "letmein12345",
    }
)
# Refresh last_seen_at at most this often, so a page view is not also a write.
_SEEN_EVERY_SECONDS = 300


def check_password_rules(password: str) -> None:
    """Length 12 to 128, any characters, not a well-known password (checklist A2)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "password", f"Use at least {MIN_PASSWORD} characters. A short sentence works well."
        )
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", f"Use at most {MAX_PASSWORD} characters.")
    if password.lower() in COMMON_PASSWORDS:
        raise Invalid("password", "That password is too common. Please choose another.")


def authenticate(email: str, password: str, now: datetime) -> str:
    """Check credentials and open a sign-in session.

    Failures are counted per email, whether or not the account exists, so unknown and
    known emails get the same answers (checklist A3, A4).

    :returns: the new session token for the cookie.
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
    token = _open_session(user, now)
    db.session.commit()
    return token


def _open_session(user: User, now: datetime) -> str:
    token = new_token()
    db.session.add(
        AuthSession(token_hash=token_hash(token), user=user, created_at=now, last_seen_at=now)
    )
    return token


_SESSION_QUERY = (
    sa.select(
        AuthSession.id.label("session_id"),
        AuthSession.last_seen_at,
        AuthSession.revoked_at,
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
        Patient.id.label("patient_id"),
        Patient.timezone,
        Patient.quiet_start,
        Patient.quiet_end,
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


def user_for_session(token: str, now: datetime) -> Principal | None:
    """The person behind a live sign-in session, or None if revoked, idle or unknown.

    One SELECT, which for a patient also reads the course's sessions; an UPDATE of
    ``last_seen_at`` only every few minutes.
    """
    # Core execution of a statement built once: this runs on every request.
    rows = reads().execute(_SESSION_QUERY, {"token_hash": token_hash(token)}).all()
    row = rows[0] if rows else None
    if row is None or row.revoked_at is not None or not row.is_active:
        return None
    staff = row.role in (Role.CLINICIAN, Role.CLINIC_ADMIN)
    idle = current_app.config["SCLERO_CLINICIAN_IDLE" if staff else "SCLERO_PATIENT_IDLE"]
    if now - row.last_seen_at > idle:
        _touch(row.session_id, revoked_at=now)
        return None
    if (now - row.last_seen_at).total_seconds() > _SEEN_EVERY_SECONDS:
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
            row.patient_id, row.timezone, row.quiet_start, row.quiet_end, sessions
        )
    return Principal(row.id, row.email, row.name, row.role, clinic, patient, row.session_id, token)


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


def issue_invitation(user: User, created_by: Principal | None, now: datetime) -> str:
    """A new single-use link token for a patient; earlier unused links stop working.

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
    return inv


def accept_invitation(token: str, password: str, confirm: str, now: datetime) -> str:
    """Set the patient's password from an invitation and sign them in.

    The invitation is claimed with a conditional UPDATE, so a double submit or two
    tabs can use it only once.

    :returns: the new session token.
    """
    inv = usable_invitation(token, now)
    check_password_rules(password)
    if password != confirm:
        raise Invalid("confirm", "The two passwords are not the same.")
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == inv.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationUnusable("used")
    user = inv.user
    user.password_hash = hash_password(password)
    # A new password ends every other session of this account (checklist A8).
    _revoke_all(user, now)
    session_token = _open_session(user, now)
    db.session.commit()
    return session_token


def _revoke_all(user: User, now: datetime) -> None:
    _revoke(AuthSession.user_id == user.id, now)


def _revoke(which: sa.ColumnElement[bool], now: datetime) -> None:
    """Mark the matching live sign-in sessions revoked (no commit)."""
    db.session.execute(
        sa.update(AuthSession).where(which, AuthSession.revoked_at.is_(None)).values(revoked_at=now)
    )


def create_staff(clinic_id: int, email: str, name: str, password: str, role: Role) -> User:
    """Create (or update the password of) a clinician or clinic admin; idempotent."""
    check_password_rules(password)
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        user = User(email=normalise_email(email), name=name, role=role, clinic_id=clinic_id)
        db.session.add(user)
    elif user.role == Role.PATIENT:
        raise Invalid("email", "That email belongs to a patient.")
    user.password_hash = hash_password(password)
    db.session.commit()
    return user
