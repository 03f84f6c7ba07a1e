"""A clinic: the unit of access for clinicians and the source of contact details."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class Clinic(db.Model):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str] = mapped_column(sa.String(40))
    # The number patients call in an emergency, e.g. 999 (UK), 112 (EU), 911 (US).
    emergency_number: Mapped[str] = mapped_column(sa.String(10))
    opening_hours: Mapped[str] = mapped_column(sa.String(200), default="")
    out_of_hours: Mapped[str] = mapped_column(sa.String(300), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/London")
