"""Protocols under clinical governance (issue 17 point 3): the clinic's protocols with
their versions, a version's text, the difference between two versions, and sign-off.

A version must be signed off by a named clinic admin before a new treatment may use it
(``app/services/clinic/checks.py`` refuses an unsigned one). Sign-off records the
admin's user id, their name as it is then, and the time; it is audited, happens once
(a second submit, or a race with another admin, changes nothing), and there is no way
to undo it from the app: a version is replaced by loading and signing off a newer one.
Treatments keep the version they were booked on, whatever is signed off later.

Staff of the clinic may read these pages; only clinic admins sign off. Another
clinic's protocol is "not found".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.domain.protocol.diff import DiffLine
from app.domain.protocol.diff import ProtocolDiff
from app.domain.protocol.diff import diff_protocols
from app.domain.protocol.diff import line_diff
from app.domain.protocol.stocking_marks import unrecognised_stocking_tasks
from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import Principal
from app.security import normalise_email
from app.services.accounts.staff import refuse_non_admin
from app.services.audit import audit
from app.services.audit import refuse
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.protocols import protocol_by_version

CONFIRM_TEXT = "I have read this version and approve it for patients"


@dataclass(frozen=True)
class VersionRow:
    """One version as the list shows it, with how many patients are on it."""

    version: ProtocolVersion
    treated: int  # patients with a recorded treatment on this version
    booked: int  # patients with a booked session on it, not yet treated


@dataclass(frozen=True)
class ProtocolGroup:
    """One protocol (a key) and its versions, newest first."""

    key: str
    name: str
    versions: tuple[VersionRow, ...]

    @property
    def offered(self) -> VersionRow | None:
        """The version new treatments get: the newest signed off."""
        return next((r for r in self.versions if r.version.is_signed_off), None)


def overview(staff: Principal) -> list[ProtocolGroup]:
    """Every protocol of the staff member's clinic with its versions (two queries)."""
    versions = db.session.scalars(
        sa.select(ProtocolVersion)
        .where(ProtocolVersion.clinic_id == staff.clinic_id)
        .order_by(ProtocolVersion.key, ProtocolVersion.version.desc())
    ).all()
    counts = _patient_counts([v.id for v in versions])
    groups: dict[str, list[VersionRow]] = defaultdict(list)
    for v in versions:
        treated, booked = counts.get(v.id, (0, 0))
        groups[v.key].append(VersionRow(v, treated, booked))
    return sorted(
        (ProtocolGroup(key, rows[0].version.name, tuple(rows)) for key, rows in groups.items()),
        key=lambda g: (g.name.lower(), g.key),
    )


def _patient_counts(version_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per version: distinct patients treated on it, and distinct patients only booked."""
    if not version_ids:
        return {}
    done = Treatment.status == TreatmentStatus.DONE
    booked = Treatment.status == TreatmentStatus.SCHEDULED
    rows = db.session.execute(
        sa.select(
            Treatment.protocol_version_id,
            sa.func.count(sa.distinct(sa.case((done, Treatment.patient_id)))),
            sa.func.count(sa.distinct(sa.case((booked, Treatment.patient_id)))),
        )
        .where(Treatment.protocol_version_id.in_(version_ids))
        .group_by(Treatment.protocol_version_id)
    ).all()
    return {vid: (treated, only_booked) for vid, treated, only_booked in rows}


def _own_version(
    staff: Principal, version_id: int | None, address: str | None = None, action: str = "read"
) -> ProtocolVersion:
    """A version of the staff member's own clinic; another clinic's (or none) is "not
    found", audited when ``address`` is given, as another clinic's patient is."""
    version = db.session.get(ProtocolVersion, version_id) if version_id is not None else None
    if version is None or version.clinic_id != staff.clinic_id:
        if address is not None:
            raise refuse(
                staff,
                address,
                f"{action} protocol version #{version_id}",
                "No such protocol version.",
            )
        raise NotFound("No such protocol version.")
    return version


@dataclass(frozen=True)
class VersionPage:
    """One version's page: its row, its full text, and its neighbours to compare with."""

    row: VersionRow
    previous: ProtocolVersion | None
    newest: ProtocolVersion
    # Titles of tasks that speak of stockings but are not taken as stocking wear: a
    # version loaded before the loader refused them (HAZ-05 C6), whose patients get
    # the no-stockings advice while those tasks run. The page asks for a new version.
    unmarked_stockings: tuple[str, ...] = ()


def version_page(staff: Principal, version_id: int, address: str | None = None) -> VersionPage:
    """A version of the clinic's own protocol, with what the page compares it to
    (another clinic's version: "not found", audited when ``address`` is given)."""
    version = _own_version(staff, version_id, address)
    siblings = db.session.scalars(
        sa.select(ProtocolVersion)
        .where(ProtocolVersion.clinic_id == staff.clinic_id, ProtocolVersion.key == version.key)
        .order_by(ProtocolVersion.version)
    ).all()
    previous = next((v for v in reversed(siblings) if v.version < version.version), None)
    treated, booked = _patient_counts([version.id]).get(version.id, (0, 0))
    parsed = protocol_by_version(version.id, version.sha256, version.source_text)
    unmarked = unrecognised_stocking_tasks(parsed.tasks, parsed.questions)
    return VersionPage(
        VersionRow(version, treated, booked),
        previous,
        siblings[-1],
        tuple(t.title for t in unmarked),
    )


@dataclass(frozen=True)
class Comparison:
    """Two versions of one protocol and what changed between them, both ways of seeing."""

    old: ProtocolVersion
    new: ProtocolVersion
    changes: ProtocolDiff
    lines: tuple[DiffLine, ...]


def compare(staff: Principal, key: str, old_number: int | None, new_number: int | None):
    """Versions ``old_number`` and ``new_number`` of the clinic's protocol ``key``; by
    default the newest version and the one before it (or itself, if it is the only one).

    :raises NotFound: for a protocol or version the clinic does not have.
    """
    found = {
        v.version: v
        for v in db.session.scalars(
            sa.select(ProtocolVersion).where(
                ProtocolVersion.clinic_id == staff.clinic_id,
                ProtocolVersion.key == key[:80],
            )
        )
    }
    if new_number is None:
        new_number = max(found, default=None)
    if old_number is None and new_number is not None:
        old_number = max((n for n in found if n < new_number), default=new_number)
    old, new = found.get(old_number), found.get(new_number)
    if old is None or new is None:
        raise NotFound("No such protocol version.")
    parsed_old = protocol_by_version(old.id, old.sha256, old.source_text)
    parsed_new = protocol_by_version(new.id, new.sha256, new.source_text)
    return Comparison(
        old,
        new,
        diff_protocols(parsed_old, parsed_new),
        line_diff(old.source_text, new.source_text),
    )


@dataclass(frozen=True)
class SignOff:
    """The outcome of a sign-off: the version, and whether this call signed it."""

    version: ProtocolVersion
    signed_now: bool


def sign_off(
    admin: Principal, version_id: int | None, confirmed: bool, address: str, now: datetime
) -> SignOff:
    """Sign a version off for patients as the signed-in clinic admin (audited, once).

    :raises NotFound: for a non-admin (the action does not exist for them) and for
        another clinic's version.
    :raises Invalid: when the confirmation was not ticked.
    """
    if not admin.is_admin:
        # A forged POST (the page shows a clinician no sign-off form): audited.
        refuse_non_admin(admin, address, f"sign off protocol version #{version_id}")
        raise NotFound("No such page.")
    version = _own_version(admin, version_id, address, "sign off")
    if version.is_signed_off:
        return SignOff(version, False)
    if not confirmed:
        raise Invalid("confirm", f"Tick “{CONFIRM_TEXT}” to sign this version off.")
    signed = _claim(version, admin.id, admin.name, now)
    if signed:
        audit(admin, None, "sign off", address, _what(version))
    db.session.commit()
    db.session.refresh(version)
    return SignOff(version, signed)


def _claim(version: ProtocolVersion, user_id: int, name: str, now: datetime) -> bool:
    """Record the sign-off unless someone signed first: a conditional update, so two
    admins (or a double submit on two workers) cannot both sign the same version."""
    result = db.session.execute(
        sa.update(ProtocolVersion)
        .where(ProtocolVersion.id == version.id, ProtocolVersion.signed_off_at.is_(None))
        .values(signed_off_at=now, signed_off_by_id=user_id, signed_off_by_name=name)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _what(version: ProtocolVersion) -> str:
    return f"protocol {version.key} v{version.version} (sha256 {version.sha256[:12]})"


def sign_off_by_email(clinic_slug: str, key: str, number: int, email: str, now: datetime):
    """``flask protocols sign-off``: the same sign-off, by an active admin named by email.

    :raises Invalid: for an unknown clinic, protocol version or admin (``field`` names
        the option).
    """
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == clinic_slug))
    if clinic is None:
        raise Invalid("clinic", f"no clinic {clinic_slug!r}")
    version = db.session.scalar(
        sa.select(ProtocolVersion).where(
            ProtocolVersion.clinic_id == clinic.id,
            ProtocolVersion.key == key,
            ProtocolVersion.version == number,
        )
    )
    if version is None:
        raise Invalid("version", f"{clinic_slug} has no protocol {key!r} version {number}")
    admin = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if (
        admin is None
        or admin.clinic_id != clinic.id
        or admin.role != Role.CLINIC_ADMIN
        or not admin.is_active
    ):
        raise Invalid("by", f"{email} is not an active clinic admin of {clinic_slug}")
    if version.is_signed_off:
        return SignOff(version, False)
    signed = _claim(version, admin.id, admin.name, now)
    if signed:
        # The audit writer takes a signed-in Principal; the command line has none, so
        # the event is written here with the same fields, from "command line".
        db.session.add(
            AuditEvent(
                clinic_id=clinic.id,
                actor_id=admin.id,
                actor_name=admin.name,
                patient_id=None,
                action="sign off",
                detail=_what(version),
                address="command line",
                created_at=now,
            )
        )
    db.session.commit()
    db.session.refresh(version)
    return SignOff(version, signed)
