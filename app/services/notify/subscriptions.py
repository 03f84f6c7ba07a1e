"""Patient use-cases for reminders: devices, quiet hours, and what the clinic sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import time

import sqlalchemy as sa
from flask import current_app

from app.adapters.push import BadSubscription
from app.adapters.push import SubscriptionInfo
from app.adapters.push import check_subscription
from app.extensions import db
from app.i18n import N_
from app.models import Channel
from app.models import EmailPreference
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.models import Role
from app.models import User
from app.principal import Principal
from app.services.audit import security_event
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.notify import email_prefs
from app.services.notify import enqueue
from app.services.notify.email_prefs import choice_of

MAX_DEVICES = 10


def _owner_filter(user: Principal):  # noqa: ANN202 - a SQL expression
    """Devices belong to a patient, or (for staff) to the clinician's own account."""
    if user.patient is not None:
        return PushSubscription.patient_id == user.patient.id
    return PushSubscription.user_id == user.id


def _patient_id(user: Principal) -> int:
    if user.patient is None:
        raise NotFound("Not a patient account.")
    return user.patient.id


def _checked(data: object) -> SubscriptionInfo:
    """A browser's subscription, validated against the configured push hosts."""
    try:
        return check_subscription(
            data,
            tuple(current_app.config["PUSH_ALLOWED_HOSTS"]),
            tuple(current_app.config["PUSH_ALLOW_HTTP"]),
        )
    except BadSubscription as exc:
        raise Invalid("subscription", str(exc)) from None


def save_subscription(
    user: Principal, data: object, device: str, now: datetime, *, reconfirm: bool = False
) -> PushSubscription:
    """Store this device's subscription (the "Turn on" tap), or re-confirm it (every
    app open, ``reconfirm=True``).

    The endpoint is unique: if another account on this phone had it, turning on moves it
    to the person now signed in. Re-confirming only refreshes a device this person still
    has: a device turned off (from another phone's list, or by signing out) or another
    account's device must stay off until someone taps "Turn on" again.

    :raises Invalid: for an endpoint or keys the server will not use.
    :raises NotFound: when re-confirming a device that is not on for this person.
    """
    info = _checked(data)
    sub = db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.endpoint == info.endpoint)
    )
    if reconfirm and (sub is None or not _owned_by(sub, user)):
        raise NotFound(N_("Reminders are off for this device."))
    if sub is None:
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(PushSubscription).where(_owner_filter(user))
        )
        if (count or 0) >= MAX_DEVICES:
            raise Invalid(
                "subscription", N_("Reminders are on for too many devices. Turn one off first.")
            )
        sub = PushSubscription(endpoint=info.endpoint, created_at=now)
        db.session.add(sub)
    sub.patient_id = user.patient.id if user.patient is not None else None
    sub.user_id = None if user.patient is not None else user.id
    sub.p256dh, sub.auth = info.p256dh, info.auth
    sub.device = device[:120]
    sub.auth_session_id = user.session_id
    sub.confirmed_at = now
    db.session.commit()
    return sub


def _owned_by(sub: PushSubscription, user: Principal) -> bool:
    if user.patient is not None:
        return sub.patient_id == user.patient.id
    return sub.user_id == user.id


def remove_subscription(
    user: Principal, endpoint: str | None = None, sub_id: int | None = None
) -> bool:
    """Turn reminders off for one device of this patient.

    By endpoint (from the device itself) it is idempotent; by id (the settings page)
    another patient's or an unknown device is "not found".
    """
    owner = _owner_filter(user)
    query = sa.delete(PushSubscription).where(owner)
    if sub_id is not None:
        found = db.session.scalar(
            sa.select(PushSubscription.id).where(owner, PushSubscription.id == sub_id)
        )
        if found is None:
            raise NotFound("No such device.")
        query = query.where(PushSubscription.id == sub_id)
    elif endpoint:
        query = query.where(PushSubscription.endpoint == endpoint)
    else:
        return False
    removed = db.session.execute(query).rowcount
    db.session.commit()
    return bool(removed)


def replace_endpoint(old_endpoint: str, data: object, now: datetime, address: str = "") -> bool:
    """The service worker's ``pushsubscriptionchange``: swap an endpoint for a new one.

    No sign-in is needed, because only the holder of the old endpoint (a secret URL the
    browser keeps) can ask; the new subscription is checked like any other.
    """
    sub = db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.endpoint == old_endpoint)
    )
    if sub is None:
        return False
    info = _checked(data)
    taken = db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.endpoint == info.endpoint)
    )
    if taken is not None and taken.id != sub.id:
        db.session.delete(taken)
        db.session.flush()
    sub.endpoint, sub.p256dh, sub.auth, sub.confirmed_at = (
        info.endpoint,
        info.p256dh,
        info.auth,
        now,
    )
    owner = db.session.get(User, sub.user_id) if sub.user_id is not None else None
    if owner is not None and owner.role in (Role.CLINICIAN, Role.CLINIC_ADMIN):
        # Where a member of staff's clinic alerts go changed (issue 18 point 1); by
        # device number only, never the endpoint (a capability URL).
        security_event(
            "push resubscribe",
            address,
            f"device #{sub.id}: the browser renewed its alert address",
            clinic_id=owner.clinic_id,
            user_id=owner.id,
            name=owner.name,
        )
    db.session.commit()
    return True


@dataclass(frozen=True)
class ReminderSettings:
    devices: list[PushSubscription]
    quiet_start: time
    quiet_end: time
    public_key: str
    # Reminder emails (app.services.notify.email_prefs): "auto", "email" or "off", and
    # the address they go to; empty for staff.
    email_choice: str = ""
    email: str = ""
    # A reminder email to this address bounced: emails are paused (email_prefs).
    email_paused: bool = False


def settings(user: Principal) -> ReminderSettings:
    """This person's devices and quiet hours, and the key browsers subscribe with.

    Staff have no quiet hours: clinic alerts are for working hours and come at once.
    """
    devices = list(
        db.session.scalars(
            sa.select(PushSubscription)
            .where(_owner_filter(user))
            .order_by(PushSubscription.created_at)
        )
    )
    key = current_app.extensions["sclero_push"]["public_key"]
    if user.patient is None:
        return ReminderSettings(devices, time(0, 0), time(0, 0), key)
    # The signed-in principal already carries the quiet hours (read with the sign-in check).
    return ReminderSettings(
        devices,
        user.patient.quiet_start,
        user.patient.quiet_end,
        key,
        choice_of(db.session.get(EmailPreference, user.patient.id)),
        user.email,
        user.patient.id in email_prefs.paused_since([user.patient.id]),
    )


def set_quiet_hours(user: Principal, start: time, end: time, now: datetime) -> int:
    """Change quiet hours; pending reminders move to fit. Returns how many moved."""
    patient = db.session.get(Patient, _patient_id(user))
    assert patient is not None
    if start == end:
        raise Invalid(
            "quiet_start",
            N_("Start and end are the same. Choose different times, or turn reminders off."),
        )
    patient.quiet_start, patient.quiet_end = start, end
    moved = enqueue.replan_patient(patient.id, now)
    db.session.commit()
    return moved


@dataclass(frozen=True)
class DeliveryState:
    """What the clinician sees about a patient's reminders."""

    devices: int
    last_confirmed: datetime | None
    last_sent: datetime | None
    last_failed: OutboxMessage | None
    next_due: datetime | None
    failed_count: int
    # Not sent because they came too late (the sender was behind, or quiet hours ran
    # into the end of their day) or a newer one of the same kind replaced them.
    dropped_count: int = 0
    email: EmailDelivery | None = None


@dataclass(frozen=True)
class EmailDelivery:
    """The patient's emails (reminder digests and account links) as the clinic sees them."""

    choice: str  # "auto", "email" or "off" (app.services.notify.email_prefs)
    last_sent: datetime | None
    failed_count: int
    last_failed: OutboxMessage | None  # refused (5xx) or given up after retries
    retrying: OutboxMessage | None  # waiting to try again after a 4xx or a connection error
    # When a hard bounce of a reminder digest paused reminder emails (email_prefs).
    paused_since: datetime | None = None


def delivery_state(patient_id: int) -> DeliveryState:
    """Reminder state for one patient, push and email, in five small queries.

    Only the patient's own reminders count: alerts about this patient sent to the
    clinicians' phones are in the same outbox, but say nothing about the patient's.
    Emails count whoever queued them (reminder digests, and account emails such as an
    invitation: a bounce says the address is wrong either way).
    """
    pref = sa.select(EmailPreference).where(EmailPreference.patient_id == patient_id)
    subs = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.max(PushSubscription.confirmed_at),
            pref.with_only_columns(EmailPreference.reminders_by_email).scalar_subquery(),
            pref.with_only_columns(EmailPreference.unsubscribed_at).scalar_subquery(),
        ).where(PushSubscription.patient_id == patient_id)
    ).one()
    mine = (
        OutboxMessage.patient_id == patient_id,
        sa.or_(OutboxMessage.recipient_user_id.is_(None), OutboxMessage.channel == Channel.EMAIL),
    )
    counts: dict[tuple[Channel, OutboxState], int] = {}
    last_sent: dict[Channel, datetime] = {}
    for channel, state, n, sent in db.session.execute(
        sa.select(
            OutboxMessage.channel,
            OutboxMessage.state,
            sa.func.count(),
            sa.func.max(OutboxMessage.sent_at),
        )
        .where(*mine)
        .group_by(OutboxMessage.channel, OutboxMessage.state)
    ):
        counts[(channel, state)] = n
        if state == OutboxState.SENT and sent is not None:
            last_sent[channel] = sent
    # The newest failure of each channel, and an email waiting to be tried again.
    problems = db.session.scalars(
        sa.select(OutboxMessage)
        .where(
            *mine,
            sa.or_(
                OutboxMessage.state == OutboxState.FAILED,
                sa.and_(
                    OutboxMessage.state == OutboxState.PENDING,
                    OutboxMessage.channel == Channel.EMAIL,
                    OutboxMessage.last_error != "",
                ),
            ),
        )
        .order_by(OutboxMessage.available_at.desc())
        .limit(100)  # a long run of one channel's failures may hide the other's newest
    ).all()
    next_due = db.session.scalar(
        sa.select(sa.func.min(OutboxMessage.available_at)).where(
            *mine, OutboxMessage.channel == Channel.PUSH, OutboxMessage.state == OutboxState.PENDING
        )
    )

    def first(channel: Channel, state: OutboxState) -> OutboxMessage | None:
        return next((m for m in problems if m.channel == channel and m.state == state), None)

    choice = "off" if subs[3] is not None else ("email" if subs[2] else "auto")
    return DeliveryState(
        subs[0],
        subs[1],
        last_sent.get(Channel.PUSH),
        first(Channel.PUSH, OutboxState.FAILED),
        next_due,
        counts.get((Channel.PUSH, OutboxState.FAILED), 0),
        counts.get((Channel.PUSH, OutboxState.DROPPED), 0),
        EmailDelivery(
            choice,
            last_sent.get(Channel.EMAIL),
            counts.get((Channel.EMAIL, OutboxState.FAILED), 0),
            first(Channel.EMAIL, OutboxState.FAILED),
            first(Channel.EMAIL, OutboxState.PENDING),
            email_prefs.paused_since([patient_id]).get(patient_id),
        ),
    )
