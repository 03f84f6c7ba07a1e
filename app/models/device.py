"""A patient's remembered phone: the quick way back in after a sign-in session ends.

The phone keeps a random token in an HttpOnly cookie; this table keeps the token's
SHA-256 and an argon2id hash of the PIN the patient chose. Together they open a new
sign-in session (app/services/accounts/devices.py; docs/decisions/session-lifetimes.md).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class RememberedDevice(db.Model):
    """One phone a patient chose to remember, until it expires or is forgotten."""

    __tablename__ = "remembered_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pin_hash: Mapped[str] = mapped_column(sa.String(255))
    # e.g. "Chrome on Android", so the patient can tell their phones apart.
    label: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Fixed when the phone is remembered, never extended: a copied cookie cannot be
    # kept alive by using it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Wrong PINs in a row (and PIN checks in flight): at the limit the phone is forgotten.
    failed_pins: Mapped[int] = mapped_column(default=0)
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
