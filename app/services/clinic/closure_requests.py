"""A clinic admin's actions on a patient's request to close their account, other than
completing it (app/services/clinic/closure.py, issue 20 point 4): recording a request
the patient made by phone, letter or in person, and withdrawing one the patient took
back (docs/decisions/account-closure.md).
"""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import AccountClosure
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.audit import refuse
from app.services.clinic import closure as closing
from app.services.clinic import closure_steps
from app.services.errors import Invalid
from app.services.locking import lock_patient


def record_request(
    admin: Principal, patient_id: int, now: datetime, address: str, *, confirmed: bool
) -> tuple[closing.ClosureStatus, bool]:
    """A clinic admin records a request the patient made by phone, letter or in person
    (an erasure request may come any way, GDPR Art. 12; a patient whose read period
    has ended cannot sign in to ask). The same request as the patient's own: one per
    patient, the same email, then completed on the closures page.

    :raises NotFound: for anyone but a clinic admin, and for another clinic's patient
        (audited).
    :raises Invalid: ("confirm") not confirmed.
    """
    closing.admin_clinic(admin, address, f"record a close request for patient #{patient_id}")
    row = own_patient(admin, patient_id, address, "record close request")
    if not confirmed:
        raise Invalid("confirm", "Tick the box to confirm that the patient asked for this.")
    return closing.open_request(row, admin, now, address, "recorded the patient's request to close")


def withdraw(admin: Principal, closure_id: int, address: str) -> int:
    """Withdraw a request the patient no longer wants (audited; they may ask again).
    :returns: the patient's id.

    :raises NotFound: for anyone but a clinic admin, and for another clinic's (or no)
        request (audited).
    :raises Invalid: ("closure") once completed: a closed account stays closed.
    """
    clinic = closing.admin_clinic(admin, address, f"withdraw closure #{closure_id}")
    row = db.session.get(AccountClosure, closure_id)
    if row is None or row.clinic_id != clinic.id:
        raise refuse(admin, address, f"withdraw closure #{closure_id}", "No such request.")
    patient_id = row.patient_id
    lock_patient(patient_id)  # not while another admin is completing it
    row = closing.reread(closure_id)
    if row is None:  # a second click, or another admin: withdrawn already
        db.session.rollback()
        return patient_id
    if row.completed_at is not None:
        db.session.rollback()
        raise Invalid("closure", closure_steps.CLOSED_ACCOUNT)
    db.session.delete(row)
    audit(admin, patient_id, "close request", address, "withdrawn: the patient changed their mind")
    db.session.commit()
    return patient_id
