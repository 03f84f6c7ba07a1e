"""A patient's remembered phone: a PIN opens a new sign-in session once the last one
has ended (30 minutes idle, 12 hours at most: ``sessions``).

Why (docs/decisions/session-lifetimes.md): short server sessions meet the security
checklist (A7), and a patient checking in every day should not have to type a long
password each time. The phone holds a random token in an HttpOnly cookie (something it
has); the patient types a 4 to 6 digit PIN (something they know). The table keeps the
token's SHA-256 and an argon2id hash of the PIN bound to the token, so a copy of the
table alone cannot be used to guess PINs.

Patients only: staff have a second factor instead and are never remembered. Five wrong
PINs in a row forget the phone, as do signing out on it, a password change or reset
(``forget_devices``), and 30 days after it was remembered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuthSession
from app.models import RememberedDevice
from app.models import Role
from app.models import User
from app.principal import Principal
from app.security import hash_password
from app.security import new_token
from app.security import token_hash
from app.security import verify_password
from app.services.accounts.sessions import open_session
from app.services.accounts.sessions import signed_in
from app.services.audit import security_event
from app.services.errors import Invalid
from app.services.errors import ServiceError

PIN_RULE = re.compile(r"[0-9]{4,6}")
# How soon after signing in a phone can be remembered (as checklist A9 asks of a
# password change: a fresh sign-in).
_CHOOSE_PIN_WITHIN = timedelta(minutes=15)


class DeviceUnknown(ServiceError):
    """The phone is not remembered (any more): expired, forgotten or never was."""


class WrongPin(ServiceError):
    """The PIN was not right; ``tries_left`` more are allowed before the phone is
    forgotten (0: it has just been forgotten)."""

    def __init__(self, tries_left: int):
        super().__init__("That PIN is not right.")
        self.tries_left = tries_left


@dataclass(frozen=True)
class Device:
    """A live remembered phone, as the PIN page needs it."""

    id: int
    user_id: int


def _pin_secret(token: str, pin: str) -> str:
    # The PIN is hashed together with the phone's token: only 10^4 to 10^6 PINs exist,
    # so a PIN hash alone would be guessed in minutes from a copy of the table.
    return f"{token}:{pin}"


def check_pin(pin: str, confirm: str) -> None:
    """The PIN rules: 4 to 6 digits, typed the same twice.

    :raises Invalid: naming the field at fault, with a message for the patient.
    """
    if not PIN_RULE.fullmatch(pin or ""):
        raise Invalid("pin", "Use 4 to 6 numbers, like 2580.")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise Invalid("pin", "That PIN is easy to guess. Please choose a less obvious one.")
    if pin != confirm:
        raise Invalid("confirm", "The two PINs are different. Please type the same PIN twice.")


def remember_device(
    principal: Principal, pin: str, confirm: str, label: str, now: datetime, address: str
) -> str:
    """Remember this phone for a signed-in patient with the PIN they chose; commit.

    :returns: the token for the phone's cookie (only its hash is stored).
    :raises Invalid: the PIN breaks a rule (``check_pin``).
    :raises DeviceUnknown: the person is not a patient: staff are never remembered.
    """
    if principal.role != Role.PATIENT:
        raise DeviceUnknown("Only patients can remember a phone.")
    check_pin(pin, confirm)
    # Only just after signing in (the page is offered then): a session cookie copied
    # later must not become a PIN of the copier's choosing that outlives it by 30 days.
    opened = db.session.scalar(
        sa.select(AuthSession.created_at).where(AuthSession.id == principal.session_id)
    )
    if opened is None or now - opened > _CHOOSE_PIN_WITHIN:
        raise Invalid(
            "pin", "To remember this phone, please sign out, then sign in again with your password."
        )
    token = new_token()
    db.session.add(
        RememberedDevice(
            token_hash=token_hash(token),
            user_id=principal.id,
            pin_hash=hash_password(_pin_secret(token, pin)),
            label=label[:80],
            created_at=now,
            last_used_at=now,
            expires_at=now + current_app.config["SCLERO_DEVICE_TTL"],
        )
    )
    security_event(
        "device_remembered",
        address,
        label[:80],
        clinic_id=principal.clinic_id,
        user_id=principal.id,
        name=principal.name,
    )
    db.session.commit()
    return token


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(RememberedDevice.forgotten_at.is_(None), RememberedDevice.expires_at > now)


def device_for_token(token: str | None, now: datetime) -> Device | None:
    """The live remembered phone behind a cookie, or None."""
    if not token:
        return None
    row = db.session.execute(
        sa.select(RememberedDevice.id, RememberedDevice.user_id)
        .join(User, User.id == RememberedDevice.user_id)
        .where(
            RememberedDevice.token_hash == token_hash(token),
            _live(now),
            User.is_active.is_(True),
            User.role == Role.PATIENT,
        )
    ).first()
    return Device(row.id, row.user_id) if row else None


def sign_in_with_pin(token: str | None, pin: str, now: datetime, address: str) -> Principal:
    """Open a new sign-in session from a remembered phone and its PIN; commit.

    The try is counted before the PIN is checked, in one conditional UPDATE: tries made
    at the same moment cannot get past the limit between a read and a write.

    :raises DeviceUnknown: the phone is not remembered (or the account is closed).
    :raises WrongPin: the PIN is wrong; at the limit the phone has just been forgotten.
    """
    if device_for_token(token, now) is None or token is None:
        raise DeviceUnknown("This phone is not remembered.")
    limit = current_app.config["SCLERO_DEVICE_PIN_TRIES"]
    this = RememberedDevice.token_hash == token_hash(token)
    counted = db.session.execute(
        sa.update(RememberedDevice)
        .where(this, _live(now), RememberedDevice.failed_pins < limit)
        .values(failed_pins=RememberedDevice.failed_pins + 1)
    ).rowcount
    db.session.commit()
    if counted != 1:
        raise DeviceUnknown("This phone is not remembered.")
    device = db.session.scalars(sa.select(RememberedDevice).where(this)).one()
    user = db.session.get(User, device.user_id)
    if user is None:
        raise DeviceUnknown("This phone is not remembered.")
    if verify_password(device.pin_hash, _pin_secret(token, pin or "")):
        device.failed_pins = 0
        device.last_used_at = now
        session_token = open_session(user, now)
        db.session.commit()
        return signed_in(session_token, now)
    tries_left = max(limit - device.failed_pins, 0)
    who = {"clinic_id": user.clinic_id, "user_id": user.id, "name": user.name}
    security_event("device_pin_failed", address, f"{tries_left} tries left", **who)
    if tries_left == 0:
        device.forgotten_at = now
        security_event("device_forgotten", address, f"{limit} wrong PINs", **who)
    db.session.commit()
    raise WrongPin(tries_left)


def forget_device(token: str | None, now: datetime) -> None:
    """Forget the phone behind a cookie (its "Forget this phone", signing out); commit.
    Unknown tokens are ignored."""
    if not token:
        return
    _forget(RememberedDevice.token_hash == token_hash(token), now)
    db.session.commit()


def forget_devices(user_id: int, now: datetime) -> None:
    """Forget every phone the user remembered (no commit: the caller's change of
    password, or its reset, commits it together with the new password)."""
    _forget(RememberedDevice.user_id == user_id, now)


def forget_other_persons_device(token: str | None, user_id: int, now: datetime) -> bool:
    """After a password sign-in: a phone remembered for another patient is forgotten
    (commit), so its PIN page never offers that person's account to this one.

    :returns: whether the phone's cookie should go (another person's, or dead).
    """
    if not token:
        return False
    device = device_for_token(token, now)
    if device is None:
        return True  # expired or forgotten: the cookie is of no use any more
    if device.user_id == user_id:
        return False
    forget_device(token, now)
    return True


def _forget(which: sa.ColumnElement[bool], now: datetime) -> None:
    db.session.execute(
        sa.update(RememberedDevice)
        .where(which, RememberedDevice.forgotten_at.is_(None))
        .values(forgotten_at=now)
    )
