"""Email settings of a patient (reminders by email, unsubscribed) and password resets."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class EmailPreference(db.Model):
    """How a patient wants reminders: no row means the default (push on a device with it
    on, else email). Written by the Reminders page and the unsubscribe link."""

    __tablename__ = "email_preferences"

    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    # True: reminders come as the day's email digest even when a device has push on.
    reminders_by_email: Mapped[bool] = mapped_column(default=False)
    # Set by the one-click unsubscribe (or "no emails" on the Reminders page): no
    # reminder email at all until the patient chooses email again.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PasswordReset(db.Model):
    """A single-use "set a new password" link, valid for an hour; stored hashed."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
