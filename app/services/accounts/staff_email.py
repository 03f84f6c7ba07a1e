"""The staff page's list with each person's email trouble: whether the last invitation
or sign-in link emailed to them failed (refused, given up, or bounced later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Channel
from app.models import OutboxMessage
from app.models import OutboxState
from app.principal import Principal
from app.services.accounts.staff import StaffRow
from app.services.accounts.staff import list_staff


@dataclass(frozen=True)
class EmailFailure:
    """The newest email to a person that ended badly, when no later one was sent."""

    at: datetime  # when it failed (or when the bounce came)
    reason: str  # "refused: 550 ...", "gave up: ...", "bounced: 5.1.1 ..."

    @property
    def bounced(self) -> bool:
        return self.reason.startswith("bounced: ")


def staff_page(admin: Principal) -> tuple[list[StaffRow], dict[int, EmailFailure]]:
    """The clinic's staff (``list_staff``, admins only) and, by user id, the failure of
    each one whose newest finished email (sent or failed) failed. Two more queries."""
    rows = list_staff(admin)
    ids = [r.id for r in rows]
    if not ids:
        return rows, {}
    finished = (OutboxState.SENT, OutboxState.FAILED)
    newest = (
        sa.select(sa.func.max(OutboxMessage.id))
        .where(
            OutboxMessage.recipient_user_id.in_(ids),
            OutboxMessage.channel == Channel.EMAIL,
            OutboxMessage.state.in_(finished),
        )
        .group_by(OutboxMessage.recipient_user_id)
    )
    failures = {
        user_id: EmailFailure(at, reason)
        for user_id, at, reason in db.session.execute(
            sa.select(
                OutboxMessage.recipient_user_id,
                OutboxMessage.available_at,
                OutboxMessage.last_error,
            ).where(
                OutboxMessage.id.in_(newest.scalar_subquery()),
                OutboxMessage.state == OutboxState.FAILED,
            )
        )
    }
    return rows, failures
