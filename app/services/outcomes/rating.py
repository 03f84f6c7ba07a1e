"""The patient's rating of each done session (issue 19 point 6): which one is due (the
card on Today), the form, and saving it.

A rating is due six weeks after a session, or from the start of the patient's local day
before the next session if that comes first, and open for six months; once given it can
be changed for four weeks (last write wins, one writer per patient; each earlier answer
is kept in the row's ``history``). Rules and
their sources: app/domain/outcomes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain import outcomes as rules
from app.extensions import db
from app.i18n import _
from app.models import OutcomeRating
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.care.course import Course
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_patient
from app.services.outcomes import tallies


@dataclass(frozen=True)
class Prompt:
    """The card on Today: the oldest session whose rating is due and not yet given."""

    treatment_id: int
    treated_at: datetime
    tz: str


@dataclass(frozen=True)
class RatingPage:
    treatment_id: int
    treated_at: datetime
    tz: str
    rating: OutcomeRating | None
    editable: bool


@dataclass(frozen=True)
class _Session:
    id: int
    anchor: datetime
    due_at: datetime


def _due_sessions(patient_id: int, tz: ZoneInfo) -> list[_Session]:
    """The patient's done sessions with when each one's rating is due (one query)."""
    rows = db.session.execute(
        sa.select(Treatment.id, Treatment.status, Treatment.appointment_at, Treatment.treated_at)
        .where(Treatment.patient_id == patient_id, Treatment.status != TreatmentStatus.CANCELLED)
        .order_by(Treatment.appointment_at, Treatment.id)
    ).all()
    return _due_from(rows, tz)


def _due_from(rows, tz: ZoneInfo) -> list[_Session]:  # noqa: ANN001 - (id, status, appointment, treated) rows
    """Each done session of ``rows`` (not cancelled, in appointment order) with its due time."""
    out = []
    for i, (tid, status, appointment, treated) in enumerate(rows):
        if status != TreatmentStatus.DONE:
            continue
        anchor = treated or appointment
        later = [r[2] for r in rows[i + 1 :] if (r[3] or r[2]) > anchor]
        out.append(
            _Session(tid, anchor, rules.rating_due_at(anchor, later[0] if later else None, tz))
        )
    return out


def _mine(actor: Principal) -> list[_Session]:
    return _due_sessions(actor.patient.id, ZoneInfo(actor.patient.timezone))


def due_prompt(actor: Principal, now: datetime, course: Course | None = None) -> Prompt | None:
    """The session to ask about on Today, or None (nothing due, or all rated).

    ``course``: the sessions Today has already loaded, so the card costs Today no
    statement unless a rating is open (Today's budget, tests/web/test_today_*)."""
    if actor.patient is None:
        return None
    if course is not None:
        rows = [
            (t.id, t.status, t.appointment_at, t.treated_at)
            for t in sorted(course.sessions, key=lambda t: (t.appointment_at, t.id))
            if t.status != TreatmentStatus.CANCELLED
        ]
        mine = _due_from(rows, course.tz)
    else:
        mine = _mine(actor)
    open_ = [s for s in mine if rules.rating_open(s.due_at, now)]
    if not open_:
        return None
    rated = set(
        db.session.scalars(
            sa.select(OutcomeRating.treatment_id).where(
                OutcomeRating.treatment_id.in_([s.id for s in open_])
            )
        )
    )
    first = next((s for s in open_ if s.id not in rated), None)
    return first and Prompt(first.id, first.anchor, actor.patient.timezone)


def _own_session(actor: Principal, treatment_id: int, now: datetime) -> _Session:
    """One of the patient's own done sessions whose rating is open; else "not found"."""
    if actor.patient is None:
        raise NotFound("No such session.")
    found = next(
        (s for s in _mine(actor) if s.id == treatment_id),
        None,
    )
    if found is None or found.due_at > now:
        raise NotFound("No such session.")
    return found


def rating_page(actor: Principal, treatment_id: int, now: datetime) -> RatingPage:
    session = _own_session(actor, treatment_id, now)
    rating = db.session.scalar(
        sa.select(OutcomeRating)
        .where(OutcomeRating.treatment_id == treatment_id)
        .execution_options(populate_existing=True)  # the latest, read under the lock
    )
    if rating is None and not rules.rating_open(session.due_at, now):
        raise NotFound("No such session.")
    editable = rating is None or rules.rating_editable(rating.created_at, now)
    return RatingPage(session.id, session.anchor, actor.patient.timezone, rating, editable)


def save_rating(
    actor: Principal,
    treatment_id: int,
    improvement: object,
    satisfaction: object,
    side_effects: list[str],
    now: datetime,
) -> OutcomeRating:
    """Store (or change, while it may be changed) the rating of one session.

    Two sends at once (a double tap, two devices): the second finds the first's row when
    its insert collides, and changes it instead (last write wins).

    :raises Invalid: bad input, or a rating that can no longer be changed.
    :raises NotFound: not the patient's session, or not due yet.
    """
    args = (actor, treatment_id, improvement, satisfaction, side_effects, now)
    try:
        return _save_rating(*args)
    except sa.exc.IntegrityError:
        db.session.rollback()
        return _save_rating(*args)


def _save_rating(
    actor: Principal,
    treatment_id: int,
    improvement: object,
    satisfaction: object,
    side_effects: list[str],
    now: datetime,
) -> OutcomeRating:
    # One writer per patient from here to the commit (app/services/locking.py): two
    # phones changing the rating at once would each read the same row and write back
    # its history with only their own earlier answer, losing the other's.
    if actor.patient is not None:
        lock_patient(actor.patient.id)
    page = rating_page(actor, treatment_id, now)
    before = tallies.state(treatment_id)  # the clinic's totals move by the difference
    if not page.editable:
        raise Invalid("improvement", _("This rating can no longer be changed. Thank you for it."))
    try:
        checked = rules.check_rating(improvement, satisfaction, side_effects)
    except rules.OutcomeError as exc:
        raise Invalid(exc.field, _(exc.message)) from exc
    rating = page.rating
    effects = " ".join(checked.side_effects)
    if rating is None:
        rating = OutcomeRating(
            treatment_id=treatment_id,
            patient_id=actor.patient.id,
            history=[],
            created_at=now,
        )
        db.session.add(rating)
    elif (rating.improvement, rating.satisfaction, rating.side_effects) == (
        checked.improvement,
        checked.satisfaction,
        effects,
    ):
        # The same answers again (a double tap, an offline resend): nothing changed, so
        # no copy of them goes into the history.
        db.session.commit()
        return rating
    else:
        previous = {
            "improvement": rating.improvement,
            "satisfaction": rating.satisfaction,
            "side_effects": rating.side_effects,
            "at": rating.updated_at.isoformat(),
        }
        rating.history = [*rating.history, previous]
    rating.improvement = checked.improvement
    rating.satisfaction = checked.satisfaction
    rating.side_effects = effects
    rating.updated_at = now
    tallies.apply(before, tallies.state(treatment_id))
    db.session.commit()
    return rating
