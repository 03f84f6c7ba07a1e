"""The export folder and what the patient's and the worker's sides share: where zips
live, removing them, expiring old links, and the worker's audit events (issue 20)."""

from __future__ import annotations

import os
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.adapters.photo_store import SimulatedCrash
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
            remove(os.path.join(export_dir(), job.file_name))
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
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    return True


def crash(stage: str) -> None:
    """Simulate a kill at ``stage`` when a test asked for it (``SCLERO_EXPORT_CRASH_AT``)."""
    if current_app.testing and current_app.config.get("SCLERO_EXPORT_CRASH_AT") == stage:
        raise SimulatedCrash(stage)
