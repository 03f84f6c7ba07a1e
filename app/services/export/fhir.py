"""A patient's record as a FHIR R4 Bundle (issue 20 point 2).

- ``patient_bundle(db_session, patient_id, *, now)``: the whole record as a Bundle of
  type ``collection``, plain JSON values. The patient's "Download my data" zip calls it
  as it is (app/services/export/, issue 20 point 1); the clinic's copy passes
  ``for_clinic=True`` to keep the clinic's unshared acknowledgement notes.
- ``clinic_bundle(actor, patient_id, address, now, everything=...)``: the clinician's
  download and the ``GET /fhir/Patient/<id>/$everything`` endpoint: a patient of the
  actor's clinic only (anything else is audited and "not found"), the export audited.

Statements: one per kind of row (patient with account and clinic, sessions with their
protocol versions, check-ins, alerts, comments, photos, ratings, scores, then the staff
named by them), whatever the length of the diary; tests/services/test_fhir_export.py
counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from app.domain import fhir
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import Comment
from app.models import OutcomeRating
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import User
from app.principal import Principal
from app.services import protocols
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.errors import NotFound
from app.services.export import fhir_events as events
from app.services.export import fhir_resources as res

Entries = list[tuple[str, dict[str, object]]]


def clinic_bundle(
    actor: Principal, patient_id: int, address: str, now: datetime, *, everything: str = ""
) -> dict[str, object]:
    """The record for a clinician of the patient's clinic, audited ("export"): as the
    ``$everything`` operation's searchset when ``everything`` is the operation's address
    (its self link), else as the download's collection."""
    patient = own_patient(actor, patient_id, address, "export")
    how = "FHIR $everything" if everything else "FHIR download"
    audit(actor, patient.id, "export", address, how)
    # Commit the audit before reading: committing after would expire every loaded row.
    patient_id = patient.id
    db.session.commit()
    read_in_one_snapshot(db.session)
    try:
        bundle = patient_bundle(db.session, patient_id, now=now, for_clinic=True)
    finally:
        db.session.rollback()  # the snapshot ends here; nothing was written in it
    return fhir.as_searchset(bundle, everything) if everything else bundle


def clinic_head(actor: Principal, patient_id: int, address: str) -> None:
    """A HEAD of either FHIR address: the same access check as the GET (a refused attempt
    is audited as ``refused``, and raises NotFound), but no bundle is built and no
    ``export`` event is written, since no data leaves the server."""
    own_patient(actor, patient_id, address, "export")
    db.session.rollback()  # nothing was written; end the read


def read_in_one_snapshot(db_session: Session) -> None:
    """Begin a read-only transaction whose statements all see the same committed state
    (PostgreSQL REPEATABLE READ), so a check-in and its alert sent while the bundle is
    read are either both in it or neither. Call at the start of a transaction. SQLite
    has no such level here; ``patient_bundle`` leaves nothing dangling there either."""
    if db_session.get_bind().dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        db_session.connection(execution_options=options)


def patient_bundle(
    db_session: Session,
    patient_id: int,
    *,
    now: datetime,
    for_clinic: bool = False,
    photo_url: Callable[[int], str | None] | None = None,
) -> dict[str, object]:
    """Every record about a patient as a FHIR R4 Bundle (``collection``).

    ``for_clinic``: alert acknowledgement notes the clinic did not share with the patient
    are included only in the clinic's copy. ``photo_url``: a photo's address from its
    id (the patient's zip may point at the copy it holds, e.g. ``photos/12.jpg``); by
    default the clinic's photo route on ``SCLERO_BASE_URL``; None leaves the photo's
    Media out (its file is not in the patient's zip), and so any reference to it.
    :raises NotFound: no such patient.
    """
    patient = db_session.scalar(
        sa.select(Patient)
        .where(Patient.id == patient_id)
        .options(joinedload(Patient.user), joinedload(Patient.clinic))
    )
    if patient is None:
        raise NotFound("No such patient.")
    clinic = patient.clinic
    entries: Entries = [
        (fhir.urn("Patient", patient.id), res.patient(patient, clinic)),
        (fhir.urn("Organization", clinic.id), res.organization(clinic)),
    ]
    sessions = list(
        db_session.scalars(
            sa.select(Treatment)
            .where(Treatment.patient_id == patient.id)
            .options(joinedload(Treatment.protocol_version))
            .order_by(Treatment.appointment_at, Treatment.id)
        )
    )
    staff: set[int] = {t.checks_confirmed_by_id for t in sessions if t.checks_confirmed_by_id}
    entries += [
        (fhir.urn("Procedure", t.id), res.procedure(t, patient.id, clinic)) for t in sessions
    ]
    space = fhir.install_space(install_name())
    forms = _questionnaires(sessions, f"{space}:{clinic.slug}", entries)
    session_of: dict[int, int] = {}  # check-in id -> its session, for the alerts
    entries += _checkins(db_session, patient.id, sessions, forms, session_of)
    for alert in db_session.scalars(
        sa.select(Alert).where(Alert.patient_id == patient.id).order_by(Alert.created_at, Alert.id)
    ):
        staff |= {alert.acknowledged_by_id} if alert.acknowledged_by_id else set()
        session = session_of.get(alert.checkin_id)
        issue = events.detected_issue(alert, with_note=for_clinic, session=session)
        entries.append((fhir.urn("DetectedIssue", alert.id), issue))
    for comment in db_session.scalars(
        sa.select(Comment)
        .where(Comment.patient_id == patient.id)
        .order_by(Comment.created_at, Comment.id)
    ):
        staff |= {comment.author_id} if comment.author_id else set()
        entries.append(
            (fhir.urn("Communication", comment.id), events.communication(comment, clinic.id))
        )
    entries += _photos_and_outcomes(
        db_session, patient.id, staff, photo_url or clinic_photo_url, blind=for_clinic
    )
    entries += [
        (fhir.urn("Practitioner", u.id), res.practitioner(u))
        for u in (
            db_session.scalars(sa.select(User).where(User.id.in_(staff)).order_by(User.id))
            if staff
            else []
        )
    ]
    bundle = {
        "resourceType": "Bundle",
        "id": fhir.resource_id("Bundle", f"{patient.id}/{now.isoformat()}"),
        "meta": {"lastUpdated": res.instant(now)},
        "type": "collection",
        "timestamp": res.instant(now),
        "entry": [fhir.entry(url, resource) for url, resource in entries],
    }
    # Free text is the patient's and the clinic's, byte for byte: made valid FHIR here,
    # once, rather than in each resource.
    finished = fhir.finished(bundle, space)
    assert isinstance(finished, dict)
    return finished


def install_name() -> str:
    """What names this installation in its FHIR ids (``app/domain/fhir.py:installed``):
    ``SCLERO_FHIR_INSTALL`` if set, else the configured address."""
    config = current_app.config
    return str(config.get("SCLERO_FHIR_INSTALL") or config.get("SCLERO_BASE_URL") or "")


def _questionnaires(sessions: list[Treatment], clinic: str, entries: Entries) -> dict[int, tuple]:
    """A Questionnaire per protocol version the sessions use (added to ``entries``);
    by version id, its canonical reference and the titles of its warning signs.
    ``clinic``: the installation's namespace and the clinic's slug, so two clinics'
    canonicals differ even where their slugs and protocol keys are the same."""
    forms: dict[int, tuple] = {}
    for t in sessions:
        version = t.protocol_version
        if version.id in forms:
            continue
        # The stored text comes with the row: parsing it needs no other statement.
        protocol = protocols.protocol_by_version(version.id, version.sha256, version.source_text)
        url = f"urn:sclerocare:questionnaire:{clinic}:{version.key}"
        forms[version.id] = (
            f"{url}|{version.version}",
            {f.key: f.title for f in protocol.red_flags},
        )
        entries.append(
            (fhir.urn("Questionnaire", version.id), res.questionnaire(version, protocol, url))
        )
    return forms


def _checkins(
    db_session: Session,
    patient_id: int,
    sessions: list[Treatment],
    forms: dict[int, tuple],
    session_of: dict[int, int],
) -> Entries:
    """Each check-in as its QuestionnaireResponses and its pain and bruising; fills
    ``session_of`` (check-in id -> session id)."""
    version_of = {t.id: t.protocol_version_id for t in sessions}
    out: Entries = []
    for checkin in db_session.execute(
        sa.select(*CheckIn.__table__.c)
        .where(CheckIn.patient_id == patient_id)
        .order_by(CheckIn.on_date, CheckIn.treatment_id, CheckIn.id)
    ):
        session_of[checkin.id] = checkin.treatment_id
        canonical, titles = forms[version_of[checkin.treatment_id]]
        out += res.responses(checkin, canonical, titles)
        out.append((fhir.urn("Observation", f"{checkin.id}-pain"), res.pain(checkin)))
        out.append((fhir.urn("Observation", f"{checkin.id}-bruising"), res.bruising(checkin)))
    return out


def clinic_photo_url(photo_id: int) -> str:
    """The clinic's photo route (app/clinician/photos.py: photo_image), as a full address.

    Built from the configured address, not a request: the patient's export is built in
    the background (app/services/notify/email_content.py:absolute does the same)."""
    base = str(current_app.config.get("SCLERO_BASE_URL") or "").rstrip("/")
    return f"{base}/clinic/photos/{photo_id}/image"


def _photos_and_outcomes(
    db_session: Session,
    patient_id: int,
    staff: set[int],
    photo_url: Callable[[int], str | None],
    *,
    blind: bool = False,
) -> Entries:
    """Photos as Media (a link to the image), then outcome ratings and clearance scores
    as Observations; adds the scoring clinicians to ``staff``.

    ``blind`` (the clinic's copy): a session's rating only once its clearance score is
    saved, as on the patient page (app/services/outcomes/scoring.py): the clinician who
    scores the photos must not have read the patient's rating first (ref 2.8)."""
    out: Entries = []
    photos: set[int] = set()
    # Plain rows, not model objects: only their columns are read, and building 200
    # models was a fifth of the bundle's time (bench/export.py). So for check-ins below.
    for photo in db_session.execute(
        sa.select(*Photo.__table__.c)
        .where(Photo.patient_id == patient_id)
        .order_by(Photo.taken_at, Photo.id)
    ):
        url = photo_url(photo.id)
        if url is None:
            continue  # its file is not in the patient's zip: no Media, nothing points at it
        photos.add(photo.id)
        out.append((fhir.urn("Media", photo.id), events.media(photo, url)))
    ratings = (
        sa.select(OutcomeRating)
        .where(OutcomeRating.patient_id == patient_id)
        .order_by(OutcomeRating.treatment_id)
    )
    if blind:
        scored = sa.select(ClearanceScore.id).where(
            ClearanceScore.treatment_id == OutcomeRating.treatment_id
        )
        ratings = ratings.where(scored.exists())
    for rating in db_session.scalars(ratings):
        out += events.rating(rating)
    for score in db_session.scalars(
        sa.select(ClearanceScore)
        .join(Treatment, Treatment.id == ClearanceScore.treatment_id)
        .where(Treatment.patient_id == patient_id)
        .order_by(ClearanceScore.treatment_id)
    ):
        staff |= {score.scored_by_id} if score.scored_by_id else set()
        observation = events.clearance(score, patient_id, photos)
        out.append((fhir.urn("Observation", f"clearance-{score.id}"), observation))
    return out
