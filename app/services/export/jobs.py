"""The patient's side of "Download my data" (issue 20 point 1).

* ``request_export``: the patient asks; at most one open job per patient (a partial
  unique index), so a double click or two devices get the same job. Audited.
* ``latest``: what the "Your data" section shows ("Preparing…", "Ready").
* ``take_download``: the one download. The job moves from ready to downloaded in one
  conditional UPDATE (so two clicks cannot both have it); the file is streamed and then
  deleted, even if the download is cut short. Audited. A used, expired or unfinished
  export raises ``ExportGone`` (a page says which); another patient's is "not found".

Building the zips is ``worker``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ExportJob
from app.models import ExportState
from app.models.export import OPEN_EXPORT_STATES
from app.principal import Principal
from app.services.audit import audit
from app.services.export.files import expire
from app.services.export.files import zips
from app.services.refusals import refuse_read

CHUNK = 256 * 1024


class ExportGone(Exception):
    """The download link was used already, or has expired: a page says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "used" | "expired" | "failed" | "preparing"


@dataclass(frozen=True)
class ExportStatus:
    """What the "Your data" section shows about the patient's latest export."""

    id: int
    state: str  # pending | building | ready | downloaded | expired | failed
    requested_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None
    size: int | None

    @property
    def preparing(self) -> bool:
        return self.state in (ExportState.PENDING, ExportState.BUILDING)


def job_status(job: ExportJob, now: datetime) -> ExportStatus:
    state = job.state.value
    if state == ExportState.READY and job.expires_at is not None and job.expires_at <= now:
        state = ExportState.EXPIRED.value  # the sweep deletes it on its next pass
    return ExportStatus(job.id, state, job.requested_at, job.ready_at, job.expires_at, job.size)


# ------------------------------------------------------------------ the patient's side


def latest(user: Principal, now: datetime) -> ExportStatus | None:
    """The patient's newest export, if any."""
    job = db.session.scalar(
        sa.select(ExportJob)
        .where(ExportJob.patient_id == _patient_id(user))
        .order_by(ExportJob.id.desc())
        .limit(1)
    )
    return job_status(job, now) if job else None


def request_export(user: Principal, address: str, now: datetime) -> ExportStatus:
    """Ask for an export; the open one if there is one already. Audited; commits."""
    pid = _patient_id(user)
    expire(now, pid)
    job = _open_job(pid)
    if job is None:
        job = ExportJob(
            patient_id=pid,
            clinic_id=user.clinic_id,
            state=ExportState.PENDING,
            requested_at=now,
            available_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(job)
                db.session.flush()
        except IntegrityError:
            job = _open_job(pid)  # another click or device asked at the same moment
            assert job is not None  # noqa: S101 - the index that refused ours names it
            audit(user, pid, "export", address, f"asked again: export #{job.id} is open")
        else:
            audit(user, pid, "export", address, f"asked for export #{job.id}")
    else:
        audit(user, pid, "export", address, f"asked again: export #{job.id} is open")
    status = job_status(job, now)
    db.session.commit()
    return status


def take_download(user: Principal, job_id: int, address: str, now: datetime) -> _StreamThenDelete:
    """The one download of a ready export: the zip's bytes, deleted once sent.

    :raises NotFound: not this patient's export (audited as a refused read).
    :raises ExportGone: used already, expired, failed, or still being prepared.
    """
    job = db.session.get(ExportJob, job_id)
    if job is None or job.patient_id != _patient_id(user):
        raise refuse_read(user, f"export #{job_id}", address, "No such download.", now)
    if job.state != ExportState.READY:
        raise ExportGone(_GONE.get(job.state, "used"))
    if job.expires_at is None or job.expires_at <= now:
        expire(now, job.patient_id)
        db.session.commit()
        raise ExportGone("expired")
    taken = db.session.execute(
        sa.update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.state == ExportState.READY)
        .values(state=ExportState.DOWNLOADED, finished_at=now)
        .returning(ExportJob.file_name)
        .execution_options(synchronize_session=False)
    ).scalar()
    if taken is None:  # a second click lost the race to the first
        db.session.rollback()
        raise ExportGone("used")
    store = zips()
    try:
        # Opened before the commit: a zip gone from the disk or bucket (removed by hand,
        # a restored server) is a clear page, not a download that breaks after its
        # headers. A bucket that does not answer is the app's 503 page, the link unused.
        source = store.open(taken)
    except FileNotFoundError:
        db.session.rollback()
        _file_lost(user, job_id, address, now)
        raise ExportGone("failed") from None
    audit(user, job.patient_id, "export", address, f"downloaded export #{job_id}")
    db.session.commit()
    return _StreamThenDelete(source, lambda: store.remove(taken))


def _file_lost(user: Principal, job_id: int, address: str, now: datetime) -> None:
    db.session.execute(
        sa.update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.state == ExportState.READY)
        .values(state=ExportState.FAILED, finished_at=now, last_error="file missing")
    )
    audit(user, _patient_id(user), "export", address, f"export #{job_id}: file missing")
    db.session.commit()


_GONE = {
    ExportState.PENDING: "preparing",
    ExportState.BUILDING: "preparing",
    ExportState.DOWNLOADED: "used",
    ExportState.EXPIRED: "expired",
    ExportState.FAILED: "failed",
}


class _StreamThenDelete:
    """The open zip in chunks; closed and removed when the response ends: finished,
    cut short, or closed before its first chunk (a generator's ``finally`` does not run
    when it is closed before it started, which left the spent file until the sweep).
    ``close`` runs outside any request, so ``delete`` carries what it needs."""

    def __init__(self, source: BinaryIO, delete: Callable[[], object]) -> None:
        self._source = source
        self._delete = delete

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = self._source.read(CHUNK)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Called by the WSGI server on every response it ends; safe to call twice."""
        if not self._source.closed:
            self._source.close()
            with contextlib.suppress(OSError):  # a silent bucket: the sweep removes it
                self._delete()


def _patient_id(user: Principal) -> int:
    if user.patient is None:  # the blueprint lets only patients in; a guard all the same
        raise PermissionError("not a patient")
    return user.patient.id


def _open_job(patient_id: int) -> ExportJob | None:
    return db.session.scalar(
        sa.select(ExportJob).where(
            ExportJob.patient_id == patient_id, ExportJob.state.in_(OPEN_EXPORT_STATES)
        )
    )
