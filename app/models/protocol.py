"""Stored protocol versions: the validated TOML text, immutable once written, and its
clinical sign-off (who approved it for patients, and when)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class ProtocolVersion(db.Model):
    """One version of one clinic's protocol. Treatments pin a row of this table."""

    __tablename__ = "protocol_versions"
    __table_args__ = (
        sa.UniqueConstraint(
            "clinic_id", "key", "version", name="uq_protocol_versions_clinic_key_version"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(80))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    source_text: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Clinical governance (issue 17 point 3): a version is offered for new treatments
    # only once a named clinic admin has approved it. The name is kept as written at
    # sign-off, so the record still says who approved it if the account is removed.
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    signed_off_by_name: Mapped[str | None] = mapped_column(sa.String(120))

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None
