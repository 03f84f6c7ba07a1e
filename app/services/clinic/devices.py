"""A clinician's own devices for clinic alerts: turning one on or off, audited.

The subscription rules are the patients' too (``notify.subscriptions``); what staff
add is accountability (issue 18 point 1): each change is an audit event with no
patient (``patient_id`` None), naming the device by its label, never its endpoint or
keys (the endpoint is a capability URL).
"""

from __future__ import annotations

from app.extensions import db
from app.principal import Principal
from app.services.audit import audit
from app.services.notify import subscriptions


def device_changed(actor: Principal, action: str, detail: str, address: str) -> None:
    """Audit a device change the shared JSON endpoint has just committed.

    A second commit: the shared handler commits the change itself, so this follows it
    (a crash between the two would leave one device change unaudited; the device list
    on the reminders page still shows the truth).
    """
    audit(actor, None, action, address, detail)
    db.session.commit()


def remove_device(actor: Principal, sub_id: int, address: str) -> bool:
    """Turn alerts off for one of the clinician's devices, from the reminders page.

    Audited in the same transaction as the removal.

    :raises NotFound: for another person's device or an unknown id (nothing recorded).
    """
    audit(actor, None, "push device removed", address, f"device #{sub_id}")
    try:
        return subscriptions.remove_subscription(actor, sub_id=sub_id)
    except Exception:
        # The pending audit row must not ride along with a later commit.
        db.session.rollback()
        raise
