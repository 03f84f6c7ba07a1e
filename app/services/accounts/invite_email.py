"""Emailing a patient their invitation link (issue 17 point 5).

A new link is issued (``invitations.issue_invitation``: earlier unused links stop
working) and queued as an email through the outbox, in one transaction with the audit
event. The staff pages call it; the page that shows a link to copy is separate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.extensions import db
from app.principal import Principal
from app.services.accounts.invitations import issue_invitation
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.notify.email_content import absolute
from app.services.notify.email_enqueue import enqueue_link_email


def email_invitation(
    actor: Principal,
    patient_id: int,
    now: datetime,
    link_for: Callable[[str], str],
    address: str = "",
) -> str:
    """Issue a new invitation for a patient of the actor's clinic and email it; commit.

    ``link_for(token)`` is the invitation page's path. :returns: the address it went to.
    :raises NotFound: another clinic's (or no) patient (audited as refused).
    """
    patient = own_patient(actor, patient_id, address, "email invitation to")
    user = patient.user
    token = issue_invitation(user, actor, now)
    enqueue_link_email(user, "invite", absolute(link_for(token)), now)
    audit(actor, patient.id, "invitation emailed", address, f"to {user.email}")
    db.session.commit()
    return user.email
