"""Push subscriptions (one per device) and the notification outbox (push and email rows)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class PushSubscription(db.Model):
    """A browser's push endpoint and keys: a patient's device, or a clinician's."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A patient's device, or (patient_id empty) a clinician's device for clinic alerts.
    patient_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(120))
    auth: Mapped[str] = mapped_column(sa.String(40))
    device: Mapped[str] = mapped_column(sa.String(120), default="")
    # The sign-in session that last confirmed it: signing out of that session removes it,
    # so the next person on a shared phone does not get this patient's reminders.
    auth_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("auth_sessions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str] = mapped_column(sa.String(200), default="")


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (or a retry)
    SENDING = "sending"  # claimed by a dispatcher until available_at (the lease)
    SENT = "sent"
    NO_DEVICE = "no_device"  # reminders not turned on: nothing to send to
    FAILED = "failed"  # gave up; visible to the clinic
    CANCELLED = "cancelled"  # plan changed (rescheduled, cancelled)
    # Not sent because it came too late (its validity window had passed) or a newer
    # reminder of the same kind replaced it; last_error says which. Shown to the clinic.
    DROPPED = "dropped"
    # A patient reminder that went out as part of the day's email digest instead of a
    # push (the patient chose email, or has no device): the digest row says if it was sent.
    DIGESTED = "digested"
    # Due at the same instant as another reminder of the same kind for the same person
    # (two checklist items due together): the one notification sent for that other row
    # covers both, so this one is neither sent on its own nor counted as not sent.
    MERGED = "merged"


class Channel(enum.StrEnum):
    PUSH = "push"  # the recipient's devices
    EMAIL = "email"  # the recipient's account email (reminder digests, account links)


OPEN_STATES = (OutboxState.PENDING.value, OutboxState.SENDING.value)
# Shared by the partial index and the dispatcher's claim query (they must match).
READY_PREDICATE = sa.text("outbox.state IN ('pending', 'sending')")


class OutboxMessage(db.Model):
    """One planned notification; unique per (treatment, key) so plans never double up."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("treatment_id", "key", name="uq_outbox_treatment_key"),
        # The dispatcher's claim query: open rows by the time they become available.
        sa.Index(
            "ix_outbox_ready",
            "available_at",
            postgresql_where=sa.text("state IN ('pending', 'sending')"),
            sqlite_where=sa.text("state IN ('pending', 'sending')"),
        ),
        # Rows tied to no treatment (account emails, a day's reminder digest) are unique
        # by key alone: a repeated enqueue or two dispatchers folding reminders into the
        # same day's digest meet here.
        sa.Index(
            "uq_outbox_untied_key",
            "key",
            unique=True,
            postgresql_where=sa.text("treatment_id IS NULL"),
            sqlite_where=sa.text("treatment_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty only for an account email to a clinician (invitation, sign-in link, reset).
    patient_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    # Empty for rows no treatment plans: account emails and the day's reminder digest.
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(sa.String(80))
    channel: Mapped[Channel] = mapped_column(
        sa.Enum(
            Channel, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]
        ),
        default=Channel.PUSH,
        server_default=Channel.PUSH.value,
    )
    # Set for messages to a clinician (new alert); otherwise the patient's devices.
    recipient_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(20))
    link: Mapped[str] = mapped_column(sa.String(200))
    time_critical: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When a dispatcher may next claim it: the due time, a retry time, or a lease's end.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[OutboxState] = mapped_column(
        sa.Enum(
            OutboxState,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxState.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # The fencing token of the dispatcher holding the current claim (a new one per
    # claim): an outcome or a lease renewal is written only WHERE claim_token matches.
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    # After this instant the reminder is no longer worth sending (app.domain.reminders
    # validity windows); empty for event messages, whose window follows from their kind.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.String(200), default="")
    # Email rows: a digest's reminder kinds ("daily,checklist"), or a link's purpose.
    detail: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # An account email's link, token included: needed until the email is sent, then
    # wiped (set to NULL with the outcome) so no usable token rests in the outbox.
    secret: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
