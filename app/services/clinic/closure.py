"""Closing a patient's account (issue 20 point 4): the patient asks, a clinic admin
completes it under the clinic's retention policy.

* The patient's page says what will happen before they ask; asking twice (a double
  submit, a second tab) finds the first request (a clinic admin may record one made by
  phone or letter, or withdraw one: ``closure_requests``). A discharged patient may
  still ask while they can read: closing is a data right, not a care action
  (docs/decisions/account-closure.md).
* The policy the patient is told when they ask (years, photos) is stored with the
  request and is the one completion applies, whatever the clinic changes in between.
* Completing (clinic admins only; anyone else "no such page", another clinic's request
  "not found", both audited) discharges the patient if they are not yet, runs every step
  in ``closure_steps.AT_CLOSURE`` (sign-in, devices, email, calendar links go at once),
  deletes the photos when the clinic's policy says so, and fixes the end of the record's
  retention. It is refused while the patient's "what is kept" email is still on its
  way (completing removes its address), while an alert is open (the same reason as
  discharge, app/services/clinic/lifecycle.py) and when already done.
* The policy (years, photos) is the clinic's own choice (app/domain/retention.py), set
  on the closures page; the config gives the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.domain import retention as rules
from app.extensions import db
from app.models import AccountClosure
from app.models import Alert
from app.models import Clinic
from app.models import OutboxMessage
from app.models import Patient
from app.models import User
from app.models.notification import OPEN_STATES
from app.principal import Principal
from app.services.accounts.staff import refuse_non_admin
from app.services.audit import audit
from app.services.audit import refuse
from app.services.clinic import closure_steps
from app.services.clinic.retention import delete_photo_rows
from app.services.clinic.retention import remove_files
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_patient
from app.services.notify.email_enqueue import enqueue_account_email
from app.services.notify.email_notice import CLOSURE_NOTICE
from app.services.notify.email_notice import NOTICE_TTL
from app.services.notify.email_notice import closure_detail

YEARS_TEXT_MAX = 10
# The discharge reason of a patient still in care when their account is closed.
CLOSED_REASON = "Account closed at the patient's request"


@dataclass(frozen=True)
class Policy:
    """A clinic's retention policy, defaults filled in."""

    years: int
    photos: str  # rules.KEEP or rules.DELETE

    @property
    def photos_kept(self) -> bool:
        return not rules.photos_go_at_closure(self.photos)


@dataclass(frozen=True)
class ClosureStatus:
    """One request: when asked, when completed, and what is kept until when."""

    id: int
    patient_id: int
    patient_name: str
    requested_at: datetime
    completed_at: datetime | None
    policy: Policy  # as promised when asked, and applied at completion
    keep_until: datetime | None


@dataclass(frozen=True)
class PatientClosurePage:
    """The patient's page: their request (None before they ask) and the policy."""

    closure: ClosureStatus | None
    policy: Policy
    discharged: bool


def policy_of(clinic: Clinic) -> Policy:
    config = current_app.config
    years = clinic.retention_years
    photos = clinic.photos_at_closure or config["SCLERO_PHOTOS_AT_CLOSURE"]
    return Policy(
        years=config["SCLERO_RETENTION_YEARS"] if years is None else years,
        photos=photos if photos in rules.PHOTO_POLICIES else rules.KEEP,
    )


def _promised(closure: AccountClosure, clinic: Clinic) -> Policy:
    """The policy the patient was told when they asked (stored on the request), which
    completion applies whatever the clinic changed since; the current one for a
    request stored without one (made before this rule)."""
    if closure.retention_years is None:
        return policy_of(clinic)
    photos = closure.photos_policy
    return Policy(closure.retention_years, photos if photos in rules.PHOTO_POLICIES else rules.KEEP)


def _status(closure: AccountClosure, patient: Patient) -> ClosureStatus:
    policy = _promised(closure, patient.clinic)
    return ClosureStatus(
        id=closure.id,
        patient_id=patient.id,
        patient_name=patient.user.name,
        requested_at=closure.requested_at,
        completed_at=closure.completed_at,
        policy=policy,
        keep_until=closure.keep_until,
    )


def _closure_of(patient_id: int) -> AccountClosure | None:
    return db.session.scalar(
        sa.select(AccountClosure).where(AccountClosure.patient_id == patient_id)
    )


# ------------------------------------------------------------------ the patient


def patient_page(patient: Principal) -> PatientClosurePage:
    """What the patient's closure page shows."""
    row = db.session.get(Patient, patient.patient.id)
    closure = _closure_of(row.id)
    return PatientClosurePage(
        closure=_status(closure, row) if closure is not None else None,
        policy=policy_of(row.clinic),
        discharged=row.discharged_at is not None,
    )


def request_closure(patient: Principal, now: datetime, address: str) -> tuple[ClosureStatus, bool]:
    """The patient asks to close their account; audited, and an email says what will be
    kept (sent now, while the address is still theirs).

    :returns: the request and whether it is new (False: they had already asked, and
        nothing changed: a double submit gives one request).
    """
    row = db.session.get(Patient, patient.patient.id)
    return open_request(row, patient, now, address, "asked to close their account")


def open_request(
    row: Patient, actor: Principal, now: datetime, address: str, what: str
) -> tuple[ClosureStatus, bool]:
    """Store the patient's request (once), email what is kept, audit ``what``; commit."""
    lock_patient(row.id)  # two submits at once: the second waits, then finds the first
    existing = _closure_of(row.id)
    if existing is not None:
        db.session.rollback()
        return _status(existing, row), False
    policy = policy_of(row.clinic)
    closure = AccountClosure(
        patient_id=row.id,
        clinic_id=row.clinic_id,
        requested_at=now,
        retention_years=policy.years,  # what the email below promises
        photos_policy=policy.photos,
    )
    db.session.add(closure)
    detail = closure_detail(policy.years, policy.photos_kept, row.clinic.phone)
    enqueue_account_email(row.user, CLOSURE_NOTICE, now, NOTICE_TTL, detail=detail)
    audit(actor, row.id, "close request", address, what)
    db.session.flush()
    status = _status(closure, row)
    db.session.commit()
    return status, True


# ------------------------------------------------------------------ the clinic admin


@dataclass(frozen=True)
class ClosuresPage:
    """The admin's page: requests waiting, those completed (record kept), the policy."""

    waiting: list[ClosureStatus]
    completed: list[ClosureStatus]
    policy: Policy


def admin_clinic(admin: Principal, address: str | None = None, what: str = "") -> Clinic:
    """The admin's clinic; anyone else is told "no such page", audited when ``address``
    is given (a forged request: non-admins are shown no closures page or form)."""
    if not admin.is_admin:
        if address is not None:
            refuse_non_admin(admin, address, what or "account closures")
        raise NotFound("No such page.")
    return db.session.get(Clinic, admin.clinic_id)


def closures_page(admin: Principal, address: str) -> ClosuresPage:
    """Every closure of the admin's clinic (an audited view: it names patients)."""
    clinic = admin_clinic(admin, address, "the account closures page")
    rows = db.session.execute(
        sa.select(AccountClosure, Patient)
        .join(Patient, Patient.id == AccountClosure.patient_id)
        .join(User, User.id == Patient.user_id)
        .where(AccountClosure.clinic_id == clinic.id)
        .order_by(AccountClosure.requested_at, AccountClosure.id)
    ).all()
    statuses = [_status(c, p) for c, p in rows]
    audit(admin, None, "view", address, f"account closures page ({len(statuses)} listed)")
    db.session.commit()
    return ClosuresPage(
        waiting=[s for s in statuses if s.completed_at is None],
        completed=[s for s in statuses if s.completed_at is not None],
        policy=policy_of(clinic),
    )


def _open_alerts(patient_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Alert)
            .where(Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None))
        )
        or 0
    )


def reread(closure_id: int) -> AccountClosure | None:
    """The request as it is now, under the patient's lock (None: withdrawn meanwhile)."""
    return db.session.get(AccountClosure, closure_id, populate_existing=True)


def _notice_on_its_way(user_id: int, now: datetime) -> bool:
    """Whether the email sent when the patient asked (what is kept, and why) is still
    waiting or being sent. Completing cancels it and removes the address, so the patient
    would never get it: the only copy they keep of what the clinic holds. Bounded: once
    ``NOTICE_TTL`` has passed it would not be sent anyway, and a refused address
    (failed) is not waited for."""
    return (
        db.session.scalar(
            sa.select(OutboxMessage.id).where(
                OutboxMessage.recipient_user_id == user_id,
                OutboxMessage.kind == CLOSURE_NOTICE,
                OutboxMessage.state.in_(OPEN_STATES),
                sa.or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now),
            )
        )
        is not None
    )


def complete(
    admin: Principal, closure_id: int, now: datetime, address: str, *, confirmed: bool = True
) -> ClosureStatus:
    """Complete a request under the clinic's policy (see the module's docstring).

    :raises NotFound: for anyone but a clinic admin, and for another clinic's (or no)
        request (audited), whether or not the form was confirmed.
    :raises Invalid: ("confirm") not confirmed; ("closure") when already completed,
        while the email saying what is kept is still on its way, or while an alert is
        open.
    """
    clinic = admin_clinic(admin, address, f"complete closure #{closure_id}")
    closure = db.session.get(AccountClosure, closure_id)
    if closure is None or closure.clinic_id != clinic.id:
        raise refuse(admin, address, f"complete closure #{closure_id}", "No such request.")
    if not confirmed:
        raise Invalid("confirm", "Tick the box to confirm that you want to close this account.")
    lock_patient(closure.patient_id)  # a check-in (and its alert) being stored waits
    closure = reread(closure_id)
    if closure is None:  # another admin withdrew it meanwhile
        raise Invalid("closure", "This request was withdrawn. Nothing was changed.")
    patient = db.session.get(Patient, closure.patient_id)
    if closure.completed_at is not None:
        db.session.rollback()
        raise Invalid(
            "closure", f"This request was already completed on {closure.completed_at:%-d %B %Y}."
        )
    if _notice_on_its_way(patient.user_id, now):
        db.session.rollback()
        raise Invalid(
            "closure",
            f"The email telling {patient.user.name} what the clinic keeps has not been sent "
            "yet, and closing removes the address it goes to. Try again in a few minutes.",
        )
    alerts = _open_alerts(patient.id)
    if alerts:
        db.session.rollback()
        raise Invalid(
            "closure",
            f"{patient.user.name} has {alerts} open alert{'s' if alerts > 1 else ''}. "
            "Acknowledge each alert with a note saying what was done before closing the account.",
        )
    policy = _promised(closure, clinic)
    if patient.discharged_at is None:
        patient.discharged_at, patient.discharge_reason = now, CLOSED_REASON
    zips = closure_steps.export_zips(patient.id)
    removed = closure_steps.remove_at_closure(
        closure_steps.Account(user_id=patient.user_id, patient_id=patient.id)
    )
    keys = delete_photo_rows(patient.id) if not policy.photos_kept else []
    closure.completed_at, closure.completed_by_id = now, admin.id
    closure.retention_years, closure.photos_policy = policy.years, policy.photos
    closure.keep_until = rules.retention_end(now, policy.years)
    photos = f"{len(keys) // 2} photos deleted" if not policy.photos_kept else "photos kept"
    audit(
        admin,
        patient.id,
        "close account",
        address,
        f"removed: {', '.join(removed)}; {photos}; record kept {policy.years} years, "
        f"until {closure.keep_until:%Y-%m-%d}",
    )
    db.session.flush()
    db.session.expire(patient)
    status = _status(closure, patient)
    db.session.commit()
    remove_files(keys)
    closure_steps.remove_zips(zips)
    return status


def record_closure(clinician: Principal, patient_id: int) -> ClosureStatus | None:
    """The closure shown on the clinic's patient page (the page itself is audited)."""
    closure = db.session.scalar(
        sa.select(AccountClosure).where(
            AccountClosure.patient_id == patient_id,
            AccountClosure.clinic_id == clinician.clinic_id,
        )
    )
    if closure is None:
        return None
    return _status(closure, db.session.get(Patient, patient_id))


def set_policy(admin: Principal, years_text: str, photos: str, address: str) -> list[str]:
    """Store the clinic's retention policy; each change audited with before and after.
    A request already made keeps the policy the patient was told (``_promised``).

    :raises NotFound: for anyone but a clinic admin.
    :raises Invalid: ("years") not a whole number in range; ("photos") not a choice.
    """
    clinic = admin_clinic(admin, address, "change the retention policy")
    text = (years_text or "").strip()[:YEARS_TEXT_MAX]
    # isascii: "²" and other Unicode digits pass isdigit() but int() refuses them.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= rules.YEARS_MAX:
        raise Invalid("years", f"Enter a whole number of years from 1 to {rules.YEARS_MAX}.")
    if photos not in rules.PHOTO_POLICIES:
        raise Invalid("photos", "Choose whether photos are kept with the record or deleted.")
    before = policy_of(clinic)
    changed = []
    if int(text) != before.years:
        audit(admin, None, "change", address, f"retention years: {before.years} -> {int(text)}")
        changed.append("retention period")
    if photos != before.photos:
        audit(admin, None, "change", address, f"photos at closure: {before.photos} -> {photos}")
        changed.append("photos at closure")
    clinic.retention_years, clinic.photos_at_closure = int(text), photos
    db.session.commit()
    return changed
