"""The worker's side of "Download my data" (issue 20 point 1): claim, build, mark ready.

* ``run_due``: one pass (the notification worker calls it after each of its passes, and
  so does ``flask export run``): expire old links, sweep stray files, then claim due
  jobs one at a time and build each. The claim is the outbox's: one UPDATE of a
  ``FOR UPDATE SKIP LOCKED`` subquery on PostgreSQL (the write lock on SQLite) giving
  the job a lease and a fencing token.
* ``build`` writes ``<name>.part`` in the local export folder, then places it (renamed
  to its final name, or uploaded whole to the photo bucket, ``files.zips``), and only
  then marks the job ready in one UPDATE fenced by the token, with the "Your download
  is ready" notification (generic words only, app/domain/reminders.py) and the audit
  event in that transaction. A kill -9 at any point before that commit leaves the job
  ``building`` with a lease that runs out: the next pass builds it again under a new
  token and file name, and ``sweep`` removes the dead worker's file. A half zip is never
  offered, because only a ready row names a file, and a row is marked ready only after
  its file is complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.adapters.photo_store import SimulatedCrash
from app.clock import wall_seconds
from app.extensions import db
from app.models import Clinic
from app.models import ExportJob
from app.models import ExportState
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models.export import CLAIMABLE_PREDICATE
from app.services.export import archive
from app.services.export import fhir
from app.services.export.files import crash
from app.services.export.files import expire
from app.services.export.files import export_dir
from app.services.export.files import remove
from app.services.export.files import system_audit
from app.services.export.files import zips
from app.services.photos import storage
from app.services.photos.owner import owned_elsewhere

RETRY_AFTER = timedelta(minutes=1)
# The page the "ready" notification opens (the "Your data" section of the settings page).
READY_LINK = "/patient/reminders#data-title"

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    built: int = 0
    failed: int = 0
    expired: int = 0
    swept: int = 0


def run_due(clock: Callable[[], datetime], *, limit: int = 10) -> RunReport:
    """One worker pass: expire old links, sweep stray files, build up to ``limit`` jobs."""
    report = RunReport(expired=expire(clock()))
    db.session.commit()
    report.swept = sweep()
    for _ in range(limit):
        claimed = claim(clock())
        if claimed is None:
            break
        if build(claimed, clock):
            report.built += 1
        else:
            report.failed += 1
    return report


@dataclass(frozen=True)
class Claimed:
    job_id: int
    patient_id: int
    attempts: int
    token: str


def claim(now: datetime) -> Claimed | None:
    """Take the oldest due job (pending, or building with its lease run out); commits."""
    lease = current_app.config["SCLERO_EXPORT_LEASE"]
    token = uuid.uuid4().hex
    due = (
        sa.select(ExportJob.id)
        .where(CLAIMABLE_PREDICATE, ExportJob.available_at <= now)
        .order_by(ExportJob.available_at)
        .limit(1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    row = db.session.execute(
        sa.update(ExportJob)
        .where(ExportJob.id.in_(due.scalar_subquery()))
        .values(
            state=ExportState.BUILDING,
            available_at=now + lease,
            attempts=ExportJob.attempts + 1,
            claim_token=token,
        )
        .returning(ExportJob.id, ExportJob.patient_id, ExportJob.attempts)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    return Claimed(row[0], row[1], row[2], token) if row else None


def build(job: Claimed, clock: Callable[[], datetime]) -> bool:
    """Build one claimed job and mark it ready; False when it failed (retried later)."""
    folder = export_dir()
    name = f"export-{job.job_id}-{job.token}.zip"
    part = os.path.join(folder, name + ".part")
    store = zips()
    # The zip's JSON and its FHIR bundle are read in one snapshot (PostgreSQL), so a
    # check-in and its alert sent meanwhile are in both or in neither. ``claim`` has
    # committed, so this starts the transaction; it ends before the job is marked ready.
    db.session.rollback()
    fhir.read_in_one_snapshot(db.session)
    patient = db.session.get(Patient, job.patient_id)
    clinic = db.session.get(Clinic, patient.clinic_id) if patient else None
    locale = archive.locale_of(patient.language if patient else "", clinic.locale if clinic else "")
    try:
        archive.write_zip(part, job.patient_id, clock(), tick=_renewer(job, clock), locale=locale)
        db.session.rollback()  # end the read-only snapshot before any write
        size = os.path.getsize(part)
        store.place(part, name)  # renamed into the folder, or uploaded to the bucket
        crash("written")  # tests: a kill between writing the zip and marking it ready
        return _mark_ready(job, name, size, clock())
    except SimulatedCrash:
        raise  # like kill -9: nothing is cleaned up, the lease brings the job back
    except Exception as exc:  # noqa: BLE001 - any failure: the job is retried, not lost
        db.session.rollback()
        remove(part)
        with contextlib.suppress(OSError):  # a silent bucket: the sweep removes it later
            store.remove(name)
        _failed(job, type(exc).__name__, clock())
        return False


def _renewer(job: Claimed, clock: Callable[[], datetime]) -> Callable[[], None]:
    """Renew the lease (fenced) each third of it while the build goes on, so a long build
    keeps its job and a dead one loses it within a lease."""
    lease = current_app.config["SCLERO_EXPORT_LEASE"]
    due = clock() + lease / 3

    def tick() -> None:
        nonlocal due
        at = clock()
        if at < due:
            return
        due = at + lease / 3
        # Through its own connection, so the build's read transaction is not committed.
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(ExportJob)
                .where(ExportJob.id == job.job_id, ExportJob.claim_token == job.token)
                .values(available_at=at + lease)
            )

    return tick


def _mark_ready(job: Claimed, name: str, size: int, now: datetime) -> bool:
    """Ready, notified and audited in one transaction, if this claim still holds it."""
    ttl = current_app.config["SCLERO_EXPORT_LINK_TTL"]
    done = db.session.execute(
        sa.update(ExportJob)
        .where(
            ExportJob.id == job.job_id,
            ExportJob.claim_token == job.token,
            ExportJob.state == ExportState.BUILDING,
        )
        .values(
            state=ExportState.READY,
            file_name=name,
            size=size,
            ready_at=now,
            expires_at=now + ttl,
            claim_token=None,
            last_error="",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:  # another worker took it after our lease ran out: its file wins
        db.session.rollback()
        with contextlib.suppress(OSError):  # a silent bucket: the sweep removes it later
            zips().remove(name)
        return False
    patient = db.session.get(Patient, job.patient_id)
    db.session.add(
        OutboxMessage(
            patient_id=job.patient_id,
            treatment_id=None,
            key=f"export:{job.job_id}",
            kind="export",
            link=READY_LINK,
            due_at=now,
            available_at=now,
            state=OutboxState.PENDING,
        )
    )
    system_audit(
        patient.clinic_id if patient else None, job.patient_id, f"built export #{job.job_id}", now
    )
    db.session.commit()
    return True


def _failed(job: Claimed, error: str, now: datetime) -> None:
    """Back to pending for a retry, or failed after the last attempt (fenced)."""
    final = job.attempts >= current_app.config["SCLERO_EXPORT_MAX_ATTEMPTS"]
    values: dict[str, object] = {"claim_token": None, "last_error": error[:200]}
    if final:
        values |= {"state": ExportState.FAILED, "finished_at": now}
    else:
        values |= {"state": ExportState.PENDING, "available_at": now + RETRY_AFTER}
    db.session.execute(
        sa.update(ExportJob)
        .where(ExportJob.id == job.job_id, ExportJob.claim_token == job.token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    patient = db.session.get(Patient, job.patient_id)
    what = "gave up on" if final else "will retry"
    system_audit(
        patient.clinic_id if patient else None,
        job.patient_id,
        f"{what} export #{job.job_id}: {error}",
        now,
    )
    db.session.commit()


def sweep(older_than: timedelta | None = None) -> int:
    """Remove files in the export folder that no ready job names (a dead worker's half
    or finished-but-never-marked zip), once older than a lease so a live build is safe."""
    age = older_than if older_than is not None else current_app.config["SCLERO_EXPORT_LEASE"]
    wanted = set(
        db.session.scalars(
            sa.select(ExportJob.file_name).where(ExportJob.state == ExportState.READY)
        )
    )
    db.session.commit()
    # Another installation given this bucket prefix (zips wait under the photo store's
    # prefix) sees this one's ready zips as strays and deleted them on every pass (an
    # adversarial test). The photo store's owner mark, written by `flask photos sweep`,
    # decides; only read here, so a pass never writes to a store it has not swept.
    photo_store = storage.store()
    if owned_elsewhere(photo_store):
        log.error("export sweep skipped: %s belongs to another installation", photo_store.where())
        return 0
    return zips().sweep(wanted, wall_seconds() - age.total_seconds())
