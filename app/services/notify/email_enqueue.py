"""What goes into the outbox as email: account links (``enqueue_link_email``) and the
day's reminder digest (``fold_into_digests``, called by the dispatcher).

Account links
-------------
``enqueue_link_email(user, purpose, url, now)`` queues an invitation, sign-in or reset
email; the caller commits it with the change that made the token. The token is stored
hashed where it is checked (``Invitation``, ``PasswordReset``); the outbox holds the full
link only while the email waits (``OutboxMessage.secret``). Every outcome that closes the
row (sent, failed, dropped) sets ``secret`` to NULL in the same UPDATE, so once the email
has gone no usable link rests in the database. While it waits, a database reader could
use it: the same exposure the clinic's own screen has when it shows the link.

The digest
----------
A patient who chose email, or who has no device with push on, gets at most one email a
day: the dispatcher folds their due reminders (already past the quiet-hours and lateness
checks) into one digest row per patient and local day (key ``digest:<patient>:<date>``,
unique). Reminders folded while the digest still waits are added to it; reminders due
after it went are marked ``digested`` and not emailed again that day (they are on the
Today page).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Channel
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import User
from app.security import new_token
from app.services.errors import Invalid
from app.services.notify.delivery import fenced
from app.services.notify.email_content import LINK_PURPOSES
from app.services.notify.outbox import ClaimedMessage

# A digest not sent within this time of its first reminder is dropped: tomorrow's is due.
# It never outlives its local day either (``digest_expiry``).
DIGEST_VALIDITY = timedelta(hours=14)


def enqueue_link_email(user: User, purpose: str, url: str, now: datetime) -> None:
    """Queue an account email carrying ``url`` (with its token) to ``user``; no commit.

    ``purpose``: ``invite``, ``signin`` or ``reset``. Sent at once (quiet hours do not
    apply: the person is waiting for it) and dropped if not sent before the link would
    have run out anyway (reset 1 hour, others the invitation's lifetime).
    """
    if purpose not in LINK_PURPOSES:
        raise Invalid("purpose", f"Unknown email purpose {purpose!r}.")
    ttl = (
        current_app.config["SCLERO_RESET_TTL"]
        if purpose == "reset"
        else current_app.config["SCLERO_INVITE_TTL"]
    )
    enqueue_account_email(user, purpose, now, ttl, detail=purpose, secret=url)


def enqueue_account_email(
    user: User, kind: str, now: datetime, ttl: timedelta, detail: str, secret: str | None = None
) -> None:
    """Queue an email about the person's account (a link, or a notice about one), sent
    at once and dropped once ``ttl`` has passed; no commit. Each gets its own key, so
    the dispatcher's "newest of a kind" rule never drops one kind for another."""
    db.session.add(
        OutboxMessage(
            patient_id=user.patient.id if user.patient is not None else None,
            treatment_id=None,
            recipient_user_id=user.id,
            key=f"{kind}:{new_token()[:40]}",
            kind=kind,
            channel=Channel.EMAIL,
            link="/login",
            time_critical=True,
            due_at=now,
            available_at=now,
            expires_at=now + ttl,
            detail=detail,
            secret=secret,
            state=OutboxState.PENDING,
        )
    )


def digest_key(patient_id: int, now: datetime, tz: ZoneInfo) -> str:
    """One digest per patient and local day."""
    return f"digest:{patient_id}:{now.astimezone(tz).date().isoformat()}"


def digest_expiry(now: datetime, tz: ZoneInfo) -> datetime:
    """When a digest started at ``now`` is too late to send: ``DIGEST_VALIDITY`` later,
    or the end of the patient's local day if that comes first. A digest held back (a
    busy server, then quiet hours) would otherwise arrive the next morning as "today's
    reminders" beside that day's own digest: two in a day, one of them stale."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return min(now + DIGEST_VALIDITY, midnight.astimezone(UTC))


def fold_into_digests(
    rows: list[ClaimedMessage], zones: dict[int, ZoneInfo], token: str, now: datetime
) -> int:
    """Fold claimed patient reminders into each patient's digest of the day; no commit.

    The reminders become ``digested`` (fenced by the claim); the missing digest rows are
    added, and the waiting ones get the new kinds. A few statements for the whole batch:
    one read of the day's digests, one insert, one fenced update (plus one update per
    digest still waiting). :returns: how many reminders were folded.
    """
    kinds: dict[str, set[str]] = defaultdict(set)
    patient_of: dict[str, int] = {}
    ids: list[int] = []
    for row in rows:
        if row.patient_id is None:
            continue
        key = digest_key(row.patient_id, now, zones[row.patient_id])
        kinds[key].add(row.kind)
        patient_of[key] = row.patient_id
        ids.append(row.id)
    if not ids:
        return 0
    existing = _existing(list(kinds))
    missing = [key for key in kinds if key not in existing]
    if missing:
        try:
            with db.session.begin_nested():
                db.session.execute(
                    sa.insert(OutboxMessage),
                    [
                        _digest_values(patient_of[k], k, kinds[k], now, zones[patient_of[k]])
                        for k in missing
                    ],
                )
        except IntegrityError:
            # Another dispatcher added one of these digests a moment ago: join them.
            existing = _existing(list(kinds))
    for key, (row_id, state, detail) in existing.items():
        if state == OutboxState.PENDING and not kinds[key] <= set(detail.split(",")):
            merged = ",".join(sorted(set(detail.split(",")) - {""} | kinds[key]))
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.state == OutboxState.PENDING)
                .values(detail=merged[:200])
                .execution_options(synchronize_session=False)
            )
    return fenced(ids, token, state=OutboxState.DIGESTED, sent_at=now)


def _existing(keys: list[str]) -> dict[str, tuple[int, OutboxState, str]]:
    """The digest rows already there for these keys: key -> (id, state, detail)."""
    found = db.session.execute(
        sa.select(
            OutboxMessage.key, OutboxMessage.id, OutboxMessage.state, OutboxMessage.detail
        ).where(OutboxMessage.treatment_id.is_(None), OutboxMessage.key.in_(sorted(keys)))
    )
    return {key: (row_id, state, detail) for key, row_id, state, detail in found}


def _digest_values(patient_id: int, key: str, kinds: set[str], now: datetime, tz: ZoneInfo) -> dict:
    return dict(
        patient_id=patient_id,
        treatment_id=None,
        key=key,
        kind="digest",
        channel=Channel.EMAIL,
        link="/patient/today",
        due_at=now,
        available_at=now,
        expires_at=digest_expiry(now, tz),
        detail=",".join(sorted(kinds))[:200],
        state=OutboxState.PENDING,
        attempts=0,
        time_critical=False,
        last_error="",
        created_at=now,
    )
