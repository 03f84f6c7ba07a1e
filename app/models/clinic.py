"""A clinic: the unit of access for clinicians and the source of contact details."""

from __future__ import annotations

from datetime import time

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
    # The human summary of ``hours`` ("Mon-Fri 08:30-18:00; Sat 09:00-13:00"), kept in
    # step with it by app/services/clinic/settings.py.
    opening_hours: Mapped[str] = mapped_column(sa.String(200), default="")
    # Structured weekly hours in the clinic's zone, read by app/domain/hours.py; blank
    # means never open, so same-day advice always puts the out-of-hours route first.
    hours: Mapped[str] = mapped_column(sa.String(400), default="", server_default="")
    # Free-text advice for when the clinic is closed (shown with the number below).
    out_of_hours: Mapped[str] = mapped_column(sa.String(300), default="")
    # Whom to call when closed: the clinic's own out-of-hours line, or the national
    # urgent-care line it names (NHS 111 for UK clinics; ref 2.6 urgent tier).
    out_of_hours_name: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    out_of_hours_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    # The zone the opening hours are written in, and the zone a new patient's form
    # starts with; each patient keeps their own zone (changing this one moves no patient).
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/London")
    # Where patients' replies to the clinic's emails go; blank until the admin sets it.
    reply_to_email: Mapped[str] = mapped_column(sa.String(254), default="", server_default="")
    # The protocol key the new-patient and booking forms preselect ("" = none); a key,
    # not a version, so loading a newer version of it needs no change here.
    default_protocol_key: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    # Quiet hours a new patient starts with (each patient can change their own).
    default_quiet_start: Mapped[time] = mapped_column(
        sa.Time, default=time(21, 0), server_default="21:00:00"
    )
    default_quiet_end: Mapped[time] = mapped_column(
        sa.Time, default=time(8, 0), server_default="08:00:00"
    )
    # Dates, times and the default language of the clinic's pages (issue 19 point 4).
    locale: Mapped[str] = mapped_column(sa.String(16), default="en_GB", server_default="en_GB")
    # --- closure and retention (issue 20 point 4) ---
    # Years a closed account's clinical record is kept (None: SCLERO_RETENTION_YEARS),
    # and whether its photos stay with it ("keep") or go at closure ("delete"; "" the
    # config's SCLERO_PHOTOS_AT_CLOSURE). The clinic's own records policy: see
    # app/domain/retention.py for the UK default.
    retention_years: Mapped[int | None] = mapped_column(sa.Integer)
    photos_at_closure: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    # --- end closure and retention ---
