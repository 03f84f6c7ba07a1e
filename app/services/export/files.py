"""The export folder and what the patient's and the worker's sides share: where zips
are built and where they wait (``zips``: the folder, or the photo bucket when photos are
in S3), removing them, expiring old links, and the worker's audit events (issue 20)."""

from __future__ import annotations

import os
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.adapters.photo_store import SimulatedCrash
from app.adapters.zip_store import BucketZips
from app.adapters.zip_store import FolderZips
from app.adapters.zip_store import ZipStore
from app.adapters.zip_store import remove_file
from app.extensions import db
from app.models import AuditEvent
from app.models import ExportJob
from app.models import ExportState


def export_dir() -> str:
    """Where zips are built (instance/exports unless set), made private on first use."""
    folder = current_app.config.get("SCLERO_EXPORT_DIR") or os.path.join(
        current_app.instance_path, "exports"
    )
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


def zips() -> ZipStore:
    """Where finished zips wait for their download. With the photo store in S3 that is
    the same bucket (``<prefix>exports/``), so a zip built by a dispatcher on one machine
    is served by any app server with no shared disk (issue 21 point 2); otherwise the
    export folder, which several servers must then share (config.py refuses less)."""
    if (current_app.config.get("SCLERO_PHOTO_STORE") or "local") == "s3":
        from app.services.photos import storage  # the bucket's client, built once

        bucket = storage.s3_store()
        return BucketZips(bucket.client, bucket.bucket, bucket.prefix, export_dir())
    return FolderZips(export_dir())


def expire(now: datetime, patient_id: int | None = None) -> int:
    """Ready exports past their link's end: expired, file deleted, audited; no commit."""
    query = sa.select(ExportJob).where(
        ExportJob.state == ExportState.READY, ExportJob.expires_at <= now
    )
    if patient_id is not None:
        query = query.where(ExportJob.patient_id == patient_id)
    jobs = list(db.session.scalars(query.with_for_update()))
    for job in jobs:
        job.state = ExportState.EXPIRED
        job.finished_at = now
        if job.file_name:
            zips().remove(job.file_name)
        system_audit(job.clinic_id, job.patient_id, f"expired export #{job.id}", now)
    return len(jobs)


def system_audit(clinic_id: int | None, patient_id: int, detail: str, now: datetime) -> None:
    # The worker has no signed-in Principal: the event names it as the actor, as the
    # command-line use-cases do (app/services/clinic/settings.py).
    db.session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_id=None,
            actor_name="export worker",
            patient_id=patient_id,
            action="export",
            detail=detail,
            address="worker",
            created_at=now,
        )
    )


def remove(path: str) -> bool:
    """Remove a local file (a part left by a failed build); False when already gone."""
    return remove_file(path)


def crash(stage: str) -> None:
    """Simulate a kill at ``stage`` when a test asked for it (``SCLERO_EXPORT_CRASH_AT``)."""
    if current_app.testing and current_app.config.get("SCLERO_EXPORT_CRASH_AT") == stage:
        raise SimulatedCrash(stage)
