"""A clinician's comment, written into a patient's recovery diary."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class Comment(db.Model):
    """A clinician's comment, shown in the patient's diary."""

    __tablename__ = "comments"
    # One comment per form load: a double tap or a resend on slow clinic Wi-Fi posts the
    # same key again and gets the comment stored the first time (app.js sets the key).
    __table_args__ = (sa.UniqueConstraint("patient_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    client_key: Mapped[str | None] = mapped_column(sa.String(64))
