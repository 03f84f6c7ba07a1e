"""The clinic's messages on Today: comments and acknowledged alerts the patient has not
seen yet (issue 19 point 3), and recording that they have.

"New" means created (a comment) or acknowledged (an alert) after
``Patient.messages_seen_at``, which the patient moves forward by opening the messages in
the diary or dismissing the card. Reading them costs no statement of its own: Today's
one query (``recovery._DAY_QUERY``) takes the comment rows from ``COMMENT_ROWS`` and the
alerts' "new" flag and acknowledger from ``alert_is_new`` and ``ACKNOWLEDGED_BY``.
Nothing here sends a push: a comment's own notification is the generic one
``notify/enqueue.enqueue_comment`` already writes, with no health details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.dbtypes import UTCDateTime
from app.extensions import db
from app.i18n import _
from app.models import Alert
from app.models import Comment
from app.models import Patient
from app.models import User
from app.principal import Principal
from app.services.errors import Invalid
from app.services.errors import NotFound

# At most this many comments on the card; the rest are counted and are in the diary.
SHOWN = 3

_seen_at = (
    sa.select(Patient.messages_seen_at)
    .where(Patient.id == sa.bindparam("patient_id"))
    .scalar_subquery()
)


def _after_seen(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(_seen_at.is_(None), column > _seen_at)


def alert_is_new() -> sa.ColumnElement[int]:
    """1 for an alert acknowledged after the patient last read their messages, else 0."""
    fresh = sa.and_(Alert.acknowledged_at.is_not(None), _after_seen(Alert.acknowledged_at))
    return sa.case((fresh, 1), else_=0)


# Who acknowledged an alert, as Today names them ("Dr Demo has seen your answers").
ACKNOWLEDGED_BY = sa.select(User.name).where(User.id == Alert.acknowledged_by_id).scalar_subquery()


def comment_rows(null: Any) -> sa.Select[Any]:
    """The new comments as rows of Today's query: kind, key, at, seen_at, note, reasons,
    who, fresh (``null(type)`` is the query's typed NULL)."""
    return sa.select(
        sa.literal("comment", sa.String),
        null(sa.String),
        Comment.created_at,
        null(UTCDateTime()),
        Comment.body,
        null(sa.Text),
        Comment.author_name,
        sa.literal(1, sa.Integer),
    ).where(Comment.patient_id == sa.bindparam("patient_id"), _after_seen(Comment.created_at))


@dataclass(frozen=True)
class ClinicComment:
    """A comment the clinic wrote into the diary, not yet seen by the patient."""

    author: str
    at: datetime
    body: str


@dataclass(frozen=True)
class Acknowledged:
    """An alert the clinic acknowledged since the patient last read their messages."""

    who: str | None
    raised_at: datetime
    seen_at: datetime
    has_note: bool


@dataclass(frozen=True)
class Messages:
    """What the "A message from your clinic" card shows. ``newest`` is the instant the
    card's "seen" button sends back, so a message arriving after the page was drawn
    stays new."""

    comments: tuple[ClinicComment, ...] = ()
    acknowledged: tuple[Acknowledged, ...] = ()
    more_comments: int = 0

    def __bool__(self) -> bool:
        return bool(self.comments or self.acknowledged)

    @property
    def newest(self) -> datetime | None:
        times = [c.at for c in self.comments] + [a.seen_at for a in self.acknowledged]
        return max(times, default=None)


def collect(comments: list[ClinicComment], acknowledged: list[Acknowledged]) -> Messages:
    """The card from the rows Today's query brought, newest first."""
    comments.sort(key=lambda c: c.at, reverse=True)
    acknowledged.sort(key=lambda a: a.seen_at, reverse=True)
    return Messages(
        tuple(comments[:SHOWN]), tuple(acknowledged), more_comments=max(0, len(comments) - SHOWN)
    )


def parse_instant(raw: str | None) -> datetime:
    """The card's ``upto`` field: an ISO instant with its offset; anything else is refused
    with a message, never a 500."""
    try:
        value: datetime | None = datetime.fromisoformat((raw or "").strip())
        # In UTC now: year 1 with a positive offset is before year 1 in UTC, and
        # converting it later, for storage, would overflow (a 500).
        value = value.astimezone(UTC) if value.tzinfo is not None else None
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise Invalid("upto", _("That message could not be marked as read. Please try again."))
    return value


def mark_seen(user: Principal, upto: datetime, now: datetime) -> None:
    """The patient has read (or dismissed) the clinic's messages up to ``upto``.

    Never moves backwards (an old page's button after a newer one's), and never past
    ``now``, so a message written after the page was drawn stays new. Nothing is written
    unless a message became seen: the diary posts this on every visit (task D).
    """
    if user.patient is None:
        raise NotFound("Not a patient account.")
    until = min(upto, now)
    seen = Patient.messages_seen_at

    def arrived(column: Any) -> sa.ColumnElement[bool]:
        return sa.and_(column <= until, sa.or_(seen.is_(None), column > seen))

    db.session.execute(
        sa.update(Patient)
        .where(
            Patient.id == user.patient.id,
            sa.or_(seen.is_(None), seen < until),
            sa.or_(
                sa.exists().where(Comment.patient_id == Patient.id, arrived(Comment.created_at)),
                sa.exists().where(
                    Alert.patient_id == Patient.id,
                    Alert.acknowledged_at.is_not(None),
                    arrived(Alert.acknowledged_at),
                ),
            ),
        )
        .values(messages_seen_at=until)
    )
    db.session.commit()
