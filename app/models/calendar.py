"""A patient's calendar feed (issue 20 point 3): the private subscription link, and each
event's revision so a calendar app sees a moved session as the same event, updated."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class CalendarLink(db.Model):
    """The patient's one subscription link; stored as the token's SHA-256 only.

    One row per patient: "Make a new link" replaces the hash (the old link stops at
    once), "Stop the link" deletes the row.
    """

    __tablename__ = "calendar_links"

    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class CalendarEventRevision(db.Model):
    """The SEQUENCE and LAST-MODIFIED a calendar event was last given.

    ``fingerprint`` is what the event said then (app/domain/calendar_events.py): when
    it differs, the event is a new revision. Kept per patient and opaque UID, so an
    event that leaves the feed and comes back never goes down in SEQUENCE. ``uid`` is
    the UID's opaque part without ``@host`` (app/services/ical/feed.py): a host name
    can be longer than the column.
    """

    __tablename__ = "calendar_event_revisions"

    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    sequence: Mapped[int] = mapped_column(default=0)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetiredCalendarLink(db.Model):
    """A link that was replaced or stopped, kept as its hash and when it stopped.

    For ``SCLERO_CALENDAR_RETIRED`` after that it answers a valid calendar with no events
    (app/services/ical/links.py), so a calendar app still polling it clears what it
    showed; then 404. No patient id: the row says nothing about anyone.
    """

    __tablename__ = "calendar_links_retired"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
