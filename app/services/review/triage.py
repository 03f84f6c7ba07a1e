"""The clinician's triage dashboard, and the open-alert count on the navigation badge.

Every query is scoped to the clinician's clinic and paged, so a page costs the same
few statements for a clinic of 100 patients or of 10,000 (bench/clinician_dashboard.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import Principal
from app.services.care.followup import FOLLOW_DAYS
from app.services.review.paging import PAGE
from app.services.review.paging import Section
from app.services.review.paging import capped_page
from app.services.review.paging import capped_total
from app.services.review.paging import counted_page

MISSED_DAYS = 2
UPCOMING_DAYS = 14
# A discharged patient leaves the dashboard's work lists (issue 17 point 4). Not the open
# alerts: discharge is refused while any is open (app/services/clinic/lifecycle.py), so a
# discharged patient has none, unless one raced the discharge; that one must stay in
# sight until acknowledged, never vanish with the patient.
_IN_CARE = Patient.discharged_at.is_(None)


# A section the clinician's filter leaves out: not queried at all.
SKIPPED = Section([], 0, 1)


@dataclass(frozen=True)
class Dashboard:
    alerts: Section
    checkins: Section
    photos: Section
    missed: Section
    upcoming: Section


@dataclass(frozen=True)
class Scope:
    """What the worklist asks for: the kinds of work to list (``None``: all) and the
    triage levels of alerts and check-ins (``None``: all levels; photos and missed
    check-ins carry no level and are left out when levels are chosen)."""

    kinds: frozenset[str] | None = None
    levels: tuple[str, ...] | None = None
    upcoming: bool = True

    def wants(self, kind: str) -> bool:
        leveled = kind in ("alerts", "checkins") or self.levels is None
        return leveled and (self.kinds is None or kind in self.kinds)


def dashboard(
    actor: Principal,
    now: datetime,
    pages: dict[str, int],
    scope: Scope = Scope(),  # noqa: B008 - frozen, so one shared default is safe
) -> Dashboard:
    """The triage dashboard: open alerts (most severe, then oldest, first), check-ins
    and photos awaiting review, patients who missed two or more check-ins, upcoming
    sessions; each kind only if ``scope`` wants it.

    Alerts are counted exactly (each needs acknowledging); the other sections count up to
    ``COUNT_CAP``. A read only: the worklist (``review.worklist``) decides which rows
    are shown and audits a "view" of each patient on the page. At most ten statements
    whatever the clinic's size (a count and a page per section).
    """
    clinic = actor.clinic_id
    levels = scope.levels
    want = scope.wants
    return Dashboard(
        alerts=_alerts(clinic, pages.get("alerts", 1), levels) if want("alerts") else SKIPPED,
        checkins=(
            _new_checkins(clinic, pages.get("checkins", 1), levels) if want("checkins") else SKIPPED
        ),
        photos=_new_photos(clinic, pages.get("photos", 1)) if want("photos") else SKIPPED,
        missed=_missed(clinic, now, pages.get("missed", 1)) if want("missed") else SKIPPED,
        upcoming=(_upcoming(clinic, now, pages.get("upcoming", 1)) if scope.upcoming else SKIPPED),
    )


def _named(model: type[Alert | CheckIn | Photo | Treatment], *columns: Any) -> sa.Select:
    """``columns`` of ``model`` with the patient's id and name, as each section lists them."""
    return (
        sa.select(*columns, Patient.id.label("patient_id"), User.name)
        .join(Patient, Patient.id == model.patient_id)
        .join(User, User.id == Patient.user_id)
    )


def _alerts(clinic: int, page: int, levels: tuple[str, ...] | None = None) -> Section:
    where = (Alert.clinic_id == clinic, Alert.acknowledged_at.is_(None))
    if levels is not None:
        where = (*where, Alert.level.in_(levels))
    query = (
        # The patient's phone comes along so a call-back is one tap (issue 14 point 11).
        _named(Alert, Alert.id, Alert.level, Alert.reasons, Alert.created_at, Patient.phone)
        .where(*where)
        .order_by(Alert.severity, Alert.created_at, Alert.id)
    )
    return counted_page(query, sa.select(sa.func.count()).select_from(Alert).where(*where), page)


def _new_checkins(clinic: int, page: int, levels: tuple[str, ...] | None = None) -> Section:
    where = (CheckIn.clinic_id == clinic, CheckIn.reviewed_at.is_(None), _IN_CARE)
    if levels is not None:
        where = (*where, CheckIn.level.in_(levels))
    query = (
        _named(CheckIn, CheckIn.id, CheckIn.day, CheckIn.level, CheckIn.pain, CheckIn.updated_at)
        .where(*where)
        .order_by(CheckIn.created_at, CheckIn.id)
    )
    matching = sa.select(CheckIn.id).join(Patient, Patient.id == CheckIn.patient_id).where(*where)
    return capped_page(query, matching, page)


def _new_photos(clinic: int, page: int) -> Section:
    """Photos no clinician has looked at yet, oldest first (``ix_photos_unreviewed``)."""
    where = (Photo.clinic_id == clinic, Photo.reviewed_at.is_(None), _IN_CARE)
    columns = (Photo.phase, Photo.day, Photo.side, Photo.region, Photo.view, Photo.created_at)
    query = _named(Photo, Photo.id, *columns).where(*where).order_by(Photo.created_at, Photo.id)
    matching = sa.select(Photo.id).join(Patient, Patient.id == Photo.patient_id).where(*where)
    return capped_page(query, matching, page)


def _missed(clinic: int, now: datetime, page: int) -> Section:
    """Patients in their four weeks of follow-up not heard from for two days or more.

    Reads the follow-up state kept on each patient (app/services/care/followup.py) through
    ``ix_patients_last_seen``, so it costs the same whatever the number of check-ins.
    A patient is last seen no earlier than their latest treatment, which is at most
    FOLLOW_DAYS before ``follow_until``: so whoever is still followed was last seen in the
    last FOLLOW_DAYS. Saying so makes the search a short range of the index, read in the
    order shown, instead of every patient followed (most of whom checked in today).
    """
    where = (
        Patient.clinic_id == clinic,
        Patient.last_seen_at >= now - timedelta(days=FOLLOW_DAYS),
        Patient.last_seen_at <= now - timedelta(days=MISSED_DAYS),
        Patient.follow_until >= now,
        _IN_CARE,
    )
    total, capped = capped_total(sa.select(Patient.id).where(*where), page)
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    # Page first, then the dates the clinician reads, for the (at most 20) shown rows only.
    shown = (
        sa.select(Patient.id, Patient.user_id, Patient.last_seen_at)
        .where(*where)
        .order_by(Patient.last_seen_at, Patient.id)
        .limit(PAGE)
        .offset((page - 1) * PAGE)
        .subquery()
    )
    last_checkin = (
        sa.select(sa.func.max(CheckIn.updated_at))
        .where(CheckIn.patient_id == shown.c.id)
        .scalar_subquery()
    )
    treated_at = (
        sa.select(sa.func.max(Treatment.treated_at))
        .where(Treatment.patient_id == shown.c.id, Treatment.status == TreatmentStatus.DONE)
        .scalar_subquery()
    )
    query = (
        sa.select(
            shown.c.id.label("patient_id"),
            User.name,
            treated_at.label("treated_at"),
            last_checkin.label("last_checkin"),
        )
        .join(User, User.id == shown.c.user_id)
        .order_by(shown.c.last_seen_at, shown.c.id)
    )
    return Section(list(db.session.execute(query)), total, page, capped)


def _upcoming(clinic: int, now: datetime, page: int) -> Section:
    where = (
        Patient.clinic_id == clinic,
        Treatment.status == TreatmentStatus.SCHEDULED,
        Treatment.appointment_at >= now,
        Treatment.appointment_at < now + timedelta(days=UPCOMING_DAYS),
        _IN_CARE,
    )
    query = (
        _named(Treatment, Treatment.id, Treatment.appointment_at, Patient.timezone)
        .where(*where)
        .order_by(Treatment.appointment_at, Treatment.id)
    )
    matching = sa.select(Treatment.id).join(Patient).where(*where)
    return capped_page(query, matching, page)


def open_alert_count(actor: Principal) -> int:
    """For the badge in the clinician's navigation."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Alert)
            .where(Alert.clinic_id == actor.clinic_id, Alert.acknowledged_at.is_(None))
        )
        or 0
    )
