"""Accounts, sign-in sessions (revocable server-side), invitations and the login throttle."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from app.models.clinic import Clinic
    from app.models.patient import Patient


class Role(enum.StrEnum):
    PATIENT = "patient"
    CLINICIAN = "clinician"
    CLINIC_ADMIN = "clinic_admin"


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # --- sign-in link notice (issue 18 point 2) ---
    # When a link from the clinic replaced an existing password: the person's start
    # page says so once, then this goes back to None.
    link_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # --- end sign-in link notice ---

    clinic: Mapped[Clinic] = relationship()
    patient: Mapped[Patient | None] = relationship(back_populates="user")

    @property
    def is_clinician(self) -> bool:
        return self.role in (Role.CLINICIAN, Role.CLINIC_ADMIN)


class AuthSession(db.Model):
    """One signed-in device; the cookie holds the token, the table holds its hash."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The second factor still owed before this session is signed in (issue 18 point 4):
    # "" none, "code" a TOTP or recovery code, "enrol" setting one up first. A pending
    # session reaches only those pages and sign-out (app/principal.py).
    mfa_pending: Mapped[str] = mapped_column(sa.String(8), default="", server_default="")
    # Wrong codes typed in this pending session; the fifth ends it.
    mfa_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # --- fresh sign-in (issue 18, checklist A9) ---
    # When the person last proved who they are in this session (sign-in, or "Confirm
    # it's you"): sensitive staff actions need it within SCLERO_FRESH_AUTH. None for
    # sessions opened before the column existed: they count from created_at.
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrong passwords or codes typed on "Confirm it's you"; the fifth ends the session.
    reauth_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # --- end fresh sign-in ---

    user: Mapped[User] = relationship()


class Invitation(db.Model):
    """A single-use link that lets a patient set their password; stored hashed."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LoginThrottle(db.Model):
    """Failed sign-ins per email (known or not), so both get the same answers."""

    __tablename__ = "login_throttle"

    email_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MfaSecret(db.Model):
    """A person's TOTP second factor (issue 18 point 4): one row per enrolled account.

    ``secret`` is the base32 secret sealed with AES-GCM under a key derived from
    SECRET_KEY (app/services/accounts/mfa.py), so a copy of the database alone cannot
    mint codes. ``confirmed_at`` is None until a first code proves the enrolment;
    ``last_step`` is the last accepted 30-second step, so a code is never used twice.
    """

    __tablename__ = "mfa_secrets"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)


class MfaRecoveryCode(db.Model):
    """A single-use recovery code, stored as its SHA-256 only."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrustedDevice(db.Model):
    """A browser trusted to skip the second factor until ``expires_at`` (12 h at most);
    the cookie holds a random token, the table its hash."""

    __tablename__ = "mfa_trusted_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
