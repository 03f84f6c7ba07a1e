"""What goes at once when a clinic admin completes an account closure (issue 20 point 4):
sign-in (password, sessions, sign-in links, remembered devices), push subscriptions, the
email address, calendar links and any "Download my data" zip.

Each step is one function over the account, in ``AT_CLOSURE``, run in order in the
completing transaction (no commit here). A new kind of personal link or contact detail
adds a step to the list, and the test of the list
(tests/services/test_closure_steps.py) names what each must leave behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import AccountClosure
from app.models import AuthSession
from app.models import CalendarEventRevision
from app.models import CalendarLink
from app.models import EmailPreference
from app.models import ExportJob
from app.models import Invitation
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PasswordReset
from app.models import PushSubscription
from app.models import RememberedDevice
from app.models import User
from app.models.notification import OPEN_STATES
from app.models.user import MfaRecoveryCode
from app.models.user import MfaSecret
from app.models.user import TrustedDevice
from app.services.export import files as export_files
from app.services.ical.links import retire_on_closure

# The address a closed account keeps: emails are unique sign-in names, so each closed
# account needs its own, and ".invalid" (RFC 2606) can never receive mail.
CLOSED_DOMAIN = "closed.invalid"


@dataclass(frozen=True)
class Account:
    """The account being closed."""

    user_id: int
    patient_id: int


# Said when a clinician tries to give a closed account back what closure removed.
CLOSED_ACCOUNT = (
    "This patient's account was closed at their request. The clinical record is kept, "
    "but the account cannot be re-opened, given a sign-in link or a new email address."
)


def is_closed(patient_id: int) -> bool:
    """Whether the patient's account closure has been completed. A closed account stays
    closed: re-opening, a new sign-in link or a new email address would hand back what
    the patient asked to have removed (re-registering is a new account)."""
    return (
        db.session.scalar(
            sa.select(AccountClosure.id).where(
                AccountClosure.patient_id == patient_id,
                AccountClosure.completed_at.is_not(None),
            )
        )
        is not None
    )


def closed_email(user_id: int) -> str:
    """The placeholder address of a closed account."""
    return f"closed-{user_id}@{CLOSED_DOMAIN}"


def _password(account: Account) -> None:
    """No password, and the account inactive: every sign-in check refuses it
    (app/services/accounts/sessions.py reads ``is_active`` on every request)."""
    db.session.execute(
        sa.update(User)
        .where(User.id == account.user_id)
        .values(password_hash=None, is_active=False, link_notice_at=None)
    )


def _sessions(account: Account) -> None:
    """Every sign-in session, on every device, ends now (the rows go)."""
    db.session.execute(sa.delete(AuthSession).where(AuthSession.user_id == account.user_id))


def _signin_links(account: Account) -> None:
    """Invitation and reset links, and any such email still waiting with its link."""
    db.session.execute(sa.delete(Invitation).where(Invitation.user_id == account.user_id))
    db.session.execute(sa.delete(PasswordReset).where(PasswordReset.user_id == account.user_id))
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.recipient_user_id == account.user_id,
            OutboxMessage.state.in_(OPEN_STATES),
        )
        .values(state=OutboxState.CANCELLED, secret=None)
    )


def _remembered_devices(account: Account) -> None:
    """Remembered phones (PIN sign-in) and any second-factor state."""
    for model in (RememberedDevice, TrustedDevice, MfaRecoveryCode, MfaSecret):
        db.session.execute(sa.delete(model).where(model.user_id == account.user_id))


def _push_subscriptions(account: Account) -> None:
    """Every device the patient turned reminders on for, and every push still queued."""
    db.session.execute(
        sa.delete(PushSubscription).where(
            sa.or_(
                PushSubscription.patient_id == account.patient_id,
                PushSubscription.user_id == account.user_id,
            )
        )
    )
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.patient_id == account.patient_id,
            OutboxMessage.recipient_user_id.is_(None),
            OutboxMessage.state.in_(OPEN_STATES),
        )
        .values(state=OutboxState.CANCELLED)
    )


def _email(account: Account) -> None:
    """The email address, and the reminder-email choice that went with it."""
    db.session.execute(
        sa.update(User)
        .where(User.id == account.user_id)
        .values(email=closed_email(account.user_id))
    )
    db.session.execute(
        sa.delete(EmailPreference).where(EmailPreference.patient_id == account.patient_id)
    )


def _calendar_links(account: Account) -> None:
    """The private calendar subscription URL (issue 20 point 3): the link stops at once.
    The events' revision rows go too: they only number a live feed's changes. The
    link's hash is kept apart, with no patient id, so a calendar still polling it gets
    an empty calendar for a while and drops the events (app/services/ical/links.py)."""
    retire_on_closure(account.patient_id, now())
    db.session.execute(sa.delete(CalendarLink).where(CalendarLink.patient_id == account.patient_id))
    db.session.execute(
        sa.delete(CalendarEventRevision).where(
            CalendarEventRevision.patient_id == account.patient_id
        )
    )


def _data_downloads(account: Account) -> None:
    """The patient's "Download my data" jobs (issue 20 point 1): a copy of the whole
    record must not outlive the account it was made for. The rows go here, so a worker
    still building one finds its job gone and never offers the file (its fenced
    mark-ready matches no row); the zips themselves go after the commit
    (``export_zips`` / ``remove_zips``), as photo files do, so a failed commit never
    leaves a job whose file is gone."""
    db.session.execute(sa.delete(ExportJob).where(ExportJob.patient_id == account.patient_id))


def export_zips(patient_id: int) -> list[str]:
    """The names of the patient's export zips, read before the closure deletes their
    jobs."""
    names = db.session.scalars(
        sa.select(ExportJob.file_name).where(
            ExportJob.patient_id == patient_id, ExportJob.file_name.is_not(None)
        )
    )
    return list(names)


def remove_zips(names: list[str]) -> None:
    """Remove the zips once the closure is committed (a zip left behind, the bucket not
    answering, is one the export sweep removes: no ready job names it)."""
    store = export_files.zips()
    for name in names:
        try:
            store.remove(name)
        except OSError:
            continue


# In order: sign-in first, so nothing below can be undone by a session still open.
AT_CLOSURE: tuple[tuple[str, Callable[[Account], None]], ...] = (
    ("password", _password),
    ("sign-in sessions", _sessions),
    ("sign-in links", _signin_links),
    ("remembered devices", _remembered_devices),
    ("push subscriptions", _push_subscriptions),
    ("email address", _email),
    ("calendar links", _calendar_links),
    ("data downloads", _data_downloads),
)


def remove_at_closure(account: Account) -> list[str]:
    """Run every step (no commit). :returns: the names of the steps, for the audit."""
    for _name, step in AT_CLOSURE:
        step(account)
    return [name for name, _step in AT_CLOSURE]
