"""The clinician's side of outcomes for one patient (issue 19 points 6 and 7): each done
session's patient rating, clearance score, complications and stocking wear (the patient
page's partial), and the blinded page that scores a session's matched photos.

Blinding (ref 2.8: rater and patient scores disagree, Bayer 2021): until a session's
clearance score is saved, neither the scoring page nor the patient page shows the
patient's rating, only whether one was given. Every query is scoped to the clinician's
clinic; another clinic's patient or session is "not found" (and the refusal audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain import outcomes as rules
from app.domain.photos import Site
from app.extensions import db
from app.models import ClearanceScore
from app.models import OutcomeRating
from app.models import Patient
from app.models import ProtocolVersion
from app.models import SessionFacts
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.audit import refuse
from app.services.errors import Invalid
from app.services.locking import lock_patient
from app.services.outcomes import tallies
from app.services.outcomes.pairs import Pair
from app.services.outcomes.pairs import patient_photos
from app.services.outcomes.pairs import photo_pairs
from app.services.protocols import protocol_by_version


@dataclass(frozen=True)
class SessionOutcome:
    """One done session as the patient page's outcomes partial shows it."""

    treatment_id: int
    number: int  # session 1, 2, ... of the course
    treated_at: datetime
    protocol: str
    sclerosant: str
    rated: bool
    # The patient's rating: None until the clearance score is saved (blinding).
    rating: OutcomeRating | None
    score: int | None
    pairs: int  # matched before/after sites
    complications: list[str] = field(default_factory=list)  # labels
    wear: rules.Wear | None = None  # None: not a compression protocol


@dataclass(frozen=True)
class ScoringPage:
    patient: Patient
    treatment_id: int
    treated_at: datetime | None  # None: booked, not yet done
    pairs: list[Pair]
    chosen: Site | None
    score: int | None  # this session's saved score (its rating is on the patient page)
    # A saved score with a rating given: the patient page now shows the rating, so a
    # change would no longer be blind to it (ref 2.8) and is refused.
    locked: bool = False


@dataclass(frozen=True)
class _Done:
    id: int
    anchor: datetime
    next_anchor: datetime | None
    number: int
    version_id: int
    sha256: str
    protocol: str
    sclerosant: str


def _sessions(patient_id: int) -> list[_Done]:
    rows = db.session.execute(
        sa.select(
            Treatment.id,
            Treatment.status,
            Treatment.appointment_at,
            Treatment.treated_at,
            Treatment.protocol_version_id,
            ProtocolVersion.sha256,
            ProtocolVersion.name,
            Treatment.sclerosant,
        )
        .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
        .where(Treatment.patient_id == patient_id, Treatment.status == TreatmentStatus.DONE)
        .order_by(Treatment.appointment_at, Treatment.id)
    ).all()
    anchors = [r.treated_at or r.appointment_at for r in rows]
    return [
        _Done(
            r.id,
            anchors[i],
            anchors[i + 1] if i + 1 < len(rows) else None,
            i + 1,
            r.protocol_version_id,
            r.sha256,
            r.name,
            r.sclerosant,
        )
        for i, r in enumerate(rows)
    ]


def patient_outcomes(actor: Principal, patient_id: int) -> list[SessionOutcome]:
    """Each done session of a patient of the clinic, newest first (the page that shows
    it has audited the view)."""
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != actor.clinic_id:
        return []
    done = _sessions(patient_id)
    ids = [d.id for d in done]
    ratings = {
        r.treatment_id: r
        for r in db.session.scalars(
            sa.select(OutcomeRating).where(OutcomeRating.treatment_id.in_(ids))
        )
    }
    scores = dict(
        db.session.execute(
            sa.select(ClearanceScore.treatment_id, ClearanceScore.score).where(
                ClearanceScore.treatment_id.in_(ids)
            )
        ).all()
    )
    # Complications and stocking answers as the check-in service keeps them (the one
    # definition, app/services/outcomes/facts.py); a session without check-ins has none.
    kept = {
        f.treatment_id: f
        for f in db.session.scalars(
            sa.select(SessionFacts).where(SessionFacts.treatment_id.in_(ids))
        )
    }
    tz = ZoneInfo(patient.timezone)
    photos = patient_photos(patient_id)
    out = []
    for d in reversed(done):
        protocol = protocol_by_version(d.version_id, d.sha256)
        f = kept.get(d.id)
        found = {k for k in rules.COMPLICATIONS if f is not None and getattr(f, k)}
        wear = None
        if rules.is_compression(protocol) and not rules.asks_stockings(protocol):
            wear = rules.Wear(unasked=1)  # stocking tasks, no question: "not asked"
        elif rules.is_compression(protocol):
            wear = rules.wear_of(
                rules.required_wear(protocol, d.anchor, tz),
                (f.day_yes + f.night_yes) if f else 0,
                (f.day_no + f.night_no) if f else 0,
            )
        score = scores.get(d.id)
        out.append(
            SessionOutcome(
                treatment_id=d.id,
                number=d.number,
                treated_at=d.anchor,
                protocol=d.protocol,
                sclerosant=d.sclerosant,
                rated=d.id in ratings,
                rating=ratings.get(d.id) if score is not None else None,
                score=score,
                pairs=len(photo_pairs(photos, d.anchor, d.next_anchor)),
                complications=[v for k, v in rules.COMPLICATIONS.items() if k in found],
                wear=wear,
            )
        )
    return out


def _own_session(actor: Principal, treatment_id: int, address: str) -> tuple[Patient, _Done | None]:
    """A session of the clinic's patient, and its place in the course if it is done
    (a booked session has no photos to score yet); anything else is "not found"."""
    patient_id = db.session.scalar(
        sa.select(Treatment.patient_id)
        .join(Patient, Patient.id == Treatment.patient_id)
        .where(Treatment.id == treatment_id, Patient.clinic_id == actor.clinic_id)
    )
    if patient_id is None:
        raise refuse(actor, address, f"score session #{treatment_id}", "No such session.")
    done = next((d for d in _sessions(patient_id) if d.id == treatment_id), None)
    return own_patient(actor, patient_id, address, "score"), done


def _pairs(patient: Patient, done: _Done | None) -> list[Pair]:
    if done is None:
        return []
    return photo_pairs(patient_photos(patient.id), done.anchor, done.next_anchor)


def scoring_page(
    actor: Principal, treatment_id: int, site: Site | None, address: str
) -> ScoringPage:
    """The blinded scoring page: the session's matched photos and the scale, never the
    patient's rating (audited as a view)."""
    patient, done = _own_session(actor, treatment_id, address)
    pairs = _pairs(patient, done)
    token = site.token if site else None
    chosen = next(
        (p.site for p in pairs if p.site.token == token), pairs[0].site if pairs else None
    )
    score = db.session.scalar(
        sa.select(ClearanceScore.score).where(ClearanceScore.treatment_id == treatment_id)
    )
    locked = score is not None and _rated(treatment_id)
    audit(actor, patient.id, "view", address, f"photos to score, session #{treatment_id}")
    db.session.commit()
    anchor = done.anchor if done else None
    return ScoringPage(patient, treatment_id, anchor, pairs, chosen, score, locked)


def _rated(treatment_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(OutcomeRating.id).where(OutcomeRating.treatment_id == treatment_id)
        )
        is not None
    )


def save_score(
    actor: Principal,
    treatment_id: int,
    site: Site | None,
    score: object,
    address: str,
    now: datetime,
) -> int:
    """Save (or change) a session's clearance score; audited. :returns: the patient id.

    Two clinicians saving at once: the later one changes the first one's row.

    :raises Invalid: no matched photos of that site, or a score outside 0-4.
    """
    args = (actor, treatment_id, site, score, address, now)
    try:
        return _save_score(*args)
    except sa.exc.IntegrityError:
        db.session.rollback()
        return _save_score(*args)


def _save_score(
    actor: Principal,
    treatment_id: int,
    site: Site | None,
    score: object,
    address: str,
    now: datetime,
) -> int:
    """Save (or change) a session's clearance score; audited. :returns: the patient id.

    :raises Invalid: no matched photos of that site, a score outside 0-4, or a change
        once the patient's rating has been shown.
    """
    patient, done = _own_session(actor, treatment_id, address)
    # One writer per patient (app/services/locking.py): the blinding rule below reads
    # whether a rating exists, and the clinic's totals move by this session's change.
    lock_patient(patient.id)
    before = tallies.state(treatment_id)
    pair = next(
        (p for p in _pairs(patient, done) if site is not None and p.site.token == site.token),
        None,
    )
    if pair is None:
        raise Invalid("site", "Choose a site with a before and an after photo.")
    try:
        value = rules.check_clearance(score)
    except rules.OutcomeError as exc:
        raise Invalid(exc.field, exc.message) from exc
    row = db.session.scalar(
        sa.select(ClearanceScore).where(ClearanceScore.treatment_id == treatment_id)
    )
    if row is not None and _rated(treatment_id):
        # Blinding (ref 2.8): the saved score revealed the rating on the patient page.
        raise Invalid(
            "score", "This score can no longer be changed: the patient's rating is shown."
        )
    if row is None:
        row = ClearanceScore(treatment_id=treatment_id)
        db.session.add(row)
    row.site = pair.site.token
    row.before_photo_id, row.after_photo_id = pair.before_id, pair.after_id
    row.score, row.scored_by_id, row.scored_at = value, actor.id, now
    tallies.apply(before, tallies.state(treatment_id))
    audit(
        actor,
        patient.id,
        "score",
        address,
        f"clearance {value} for session #{treatment_id}, photos #{pair.before_id} and "
        f"#{pair.after_id}",
    )
    db.session.commit()
    return patient.id
