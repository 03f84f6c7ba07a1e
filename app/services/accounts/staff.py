"""Staff accounts: clinicians and clinic admins.

``create_staff`` is the command line's (``flask users create-staff``). The rest is the
clinic admin's staff pages: the list, inviting someone by email, and a new sign-in
link. Changing a role and (de)activating an account are in ``staff_changes``. Every
function here takes the admin as a ``Principal`` and is scoped to their clinic: a
non-admin, or someone else's staff, is "not found" (audited), never "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.domain import direction
from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Clinic
from app.models import Role
from app.models import User
from app.principal import Principal
from app.security import EMAIL_MAX
from app.security import hash_password
from app.security import is_plain_email
from app.security import normalise_email
from app.services.accounts.invitations import issue_invitation
from app.services.accounts.link_notice import tell_link_issued
from app.services.accounts.links import email_link
from app.services.accounts.passwords import check_password_rules
from app.services.accounts.sessions import revoke_all
from app.services.audit import audit
from app.services.audit import refuse
from app.services.errors import Invalid
from app.services.errors import NotFound

STAFF_ROLES = (Role.CLINICIAN, Role.CLINIC_ADMIN)
MAX_NAME = 120


def create_staff(
    clinic_id: int, email: str, name: str, password: str, role: Role, now: datetime
) -> User:
    """Create (or update the password of) a clinician or clinic admin; idempotent.

    Audited from "command line" (issue 18 point 1), as `flask clinic create` is. A new
    password for an existing account ends its sessions, as a reset does: whoever held
    the old one must not stay signed in. The account must be of the clinic named, so a
    typing slip in ``--clinic-id`` cannot reset the password of another clinic's staff.
    """
    email = normalise_email(email)
    if db.session.get(Clinic, clinic_id) is None:
        raise Invalid("clinic_id", f"There is no clinic with id {clinic_id}.")
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is not None and user.role == Role.PATIENT:
        raise Invalid("email", "That email belongs to a patient.")
    if user is not None and user.clinic_id != clinic_id:
        raise Invalid("email", "That email belongs to staff of another clinic.")
    check_password_rules(password, email=email, name=name if user is None else user.name)
    if user is None:
        user = User(email=email, name=name, role=role, clinic_id=clinic_id)
        db.session.add(user)
        action, detail = "create staff", f"{email} as {role.value}, with a password"
    else:
        revoke_all(user, now)
        action, detail = "change", f"password of {email} set; all sessions ended"
    user.password_hash = hash_password(password)
    db.session.flush()
    # The audit writer takes a signed-in Principal; the command line has none, so the
    # event names it as the actor, as `flask clinic create` does.
    db.session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_id=None,
            actor_name="command line",
            patient_id=None,
            action=action,
            detail=detail,
            address="command line",
            created_at=now,
        )
    )
    db.session.commit()
    return user


def require_admin(actor: Principal) -> None:
    """Only a clinic admin manages staff; anyone else sees no such page (404)."""
    if not actor.is_admin:
        raise NotFound("No such page.")


def refuse_non_admin(actor: Principal, address: str, what: str) -> None:
    """A member of staff who is not an admin tried an admin's write (a forged POST: the
    pages show them no such button). Audited and committed at once, so the 404 that
    follows does not roll it back."""
    audit(actor, None, "refused", address, f"{what} (clinic admins only)"[:300])
    db.session.commit()


def own_staff(admin: Principal, user_id: int, address: str, action: str) -> User:
    """A clinician or admin of the admin's own clinic; anything else is audited and
    "not found" (a patient's account is not staff, whichever clinic)."""
    require_admin(admin)
    user = db.session.get(User, user_id)
    if user is None or user.clinic_id != admin.clinic_id or user.role not in STAFF_ROLES:
        raise refuse(admin, address, f"{action} staff #{user_id}", "No such person.")
    return user


@dataclass(frozen=True)
class StaffRow:
    """One line of the staff list."""

    id: int
    name: str
    email: str
    role: Role
    is_active: bool
    # None: never signed in (an invitation not yet accepted, or a password set by the CLI).
    last_sign_in: datetime | None
    has_password: bool

    @property
    def is_admin(self) -> bool:
        return self.role == Role.CLINIC_ADMIN


def list_staff(admin: Principal) -> list[StaffRow]:
    """The clinic's clinicians and admins, active first, then by name; one query."""
    require_admin(admin)
    last = (
        sa.select(AuthSession.user_id, sa.func.max(AuthSession.created_at).label("at"))
        .group_by(AuthSession.user_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(User, last.c.at)
        .outerjoin(last, last.c.user_id == User.id)
        .where(User.clinic_id == admin.clinic_id, User.role.in_(STAFF_ROLES))
        .order_by(User.is_active.desc(), sa.func.lower(User.name), User.id)
    ).all()
    return [
        StaffRow(u.id, u.name, u.email, u.role, u.is_active, at, u.password_hash is not None)
        for u, at in rows
    ]


@dataclass(frozen=True)
class IssuedLink:
    """A sign-in link just made: shown once on screen (and perhaps emailed).

    ``purpose`` is ``"invite"`` for someone who never set a password, else ``"signin"``.
    """

    user: User
    token: str
    purpose: str


def parse_role(value: str) -> Role:
    """A staff role from a form value. :raises Invalid: on the ``role`` field."""
    for role in STAFF_ROLES:
        if value == role.value:
            return role
    raise Invalid("role", "Choose clinician or clinic admin.")


def check_name(name: str) -> str:
    """A person's name as shown on every page: 1 to 120 characters."""
    name = " ".join(name.split())
    if not name:
        raise Invalid("name", "Enter the person's name.")
    if len(name) > MAX_NAME:
        raise Invalid("name", f"Use at most {MAX_NAME} characters.")
    if direction.has_direction_controls(name):
        raise Invalid("name", direction.MESSAGE)
    return name


def check_email(email: str) -> str:
    """An email address as stored (normalised). :raises Invalid: on ``email``."""
    email = email.strip()
    if not email:
        raise Invalid("email", "Enter their email address.")
    if len(email) > EMAIL_MAX:
        raise Invalid("email", f"Use at most {EMAIL_MAX} characters.")
    if not is_plain_email(email):
        raise Invalid("email", "Enter an email address like name@example.com.")
    return normalise_email(email)


def invite_staff(
    admin: Principal,
    email: str,
    name: str,
    role: str,
    now: datetime,
    address: str,
    email_url: Callable[[str], str] | None = None,
) -> IssuedLink:
    """Add a clinician or admin with no password, and make their invitation link.

    Inviting again someone who was invited but never set a password (a double submit,
    or a lost link) makes a fresh link, and the old one stops working. Anyone else with
    that email is refused: an account is never moved between clinics or roles here.

    ``email_url`` (the page's way of turning a token into a full link), when given,
    asks for the link to be emailed as well.

    :raises Invalid: on ``email``, ``name`` or ``role``.
    """
    require_admin(admin)
    name, email, chosen = check_name(name), check_email(email), parse_role(role)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, role=chosen, clinic_id=admin.clinic_id)
        db.session.add(user)
        db.session.flush()
        audit(admin, None, "invite staff", address, f"{email} as {_role_words(chosen)}")
    elif (
        user.clinic_id == admin.clinic_id
        and user.role == chosen
        and user.password_hash is None
        and user.is_active
    ):
        audit(admin, None, "invite staff", address, f"{email} again (new link)")
    else:
        raise Invalid(
            "email",
            "There is already an account with this email. If they work here, find them "
            "in the list below.",
        )
    return _issue(admin, user, "invite", now, email_url)


def new_link(
    admin: Principal,
    user_id: int,
    now: datetime,
    address: str,
    email_url: Callable[[str], str] | None = None,
) -> IssuedLink:
    """A fresh sign-in link for an active member of staff (their last one stops working).

    Someone who never set a password gets an invitation; someone who has one gets a
    link to set a new one (the same page: it replaces the password and ends their
    other sessions when used).
    """
    user = own_staff(admin, user_id, address, "new link for")
    if not user.is_active:
        raise Invalid("link", "Reactivate this account first.")
    purpose = "signin" if user.password_hash else "invite"
    audit(admin, None, "staff link", address, f"new {purpose} link for {user.email}")
    if purpose == "signin":
        # It replaces their password when used: they are told (issue 18 point 2).
        tell_link_issued(user, now)
    return _issue(admin, user, purpose, now, email_url)


def _issue(
    admin: Principal,
    user: User,
    purpose: str,
    now: datetime,
    email_url: Callable[[str], str] | None,
) -> IssuedLink:
    """Make the link (earlier ones stop working), email it if asked, and commit once."""
    token = issue_invitation(user, admin, now)
    if email_url is not None:
        email_link(user, purpose, email_url(token), now)
    db.session.commit()
    return IssuedLink(user, token, purpose)


def _role_words(role: Role) -> str:
    return "clinic admin" if role == Role.CLINIC_ADMIN else "clinician"
