"""A patient's "Download my data" request (issue 20 point 1): one job row per export.

The row is the queue and the record: the dispatcher (or ``flask export run``) claims a
pending row with a lease and a fencing token, as the outbox does, builds the zip into
instance/exports, then marks it ready in one fenced UPDATE. A worker killed mid-build
never marks it ready, so its lease runs out and the job is claimed again; the half-written
file is never offered (it is not named by a ready row, and the sweep removes it).
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db


class ExportState(enum.StrEnum):
    PENDING = "pending"  # asked for, waiting for a worker (or a retry after a crash)
    BUILDING = "building"  # claimed by a worker until available_at (the lease)
    READY = "ready"  # the zip is on disk; the patient may download it once
    DOWNLOADED = "downloaded"  # downloaded once; the file is gone
    EXPIRED = "expired"  # not downloaded in time; the file is gone
    FAILED = "failed"  # gave up after several attempts; the patient may ask again


# A patient has at most one export in these states (the partial unique index below), so
# a double click, two tabs or two devices asking at once get the same job.
OPEN_EXPORT_STATES = ("pending", "building", "ready")
OPEN_EXPORT_PREDICATE = "state IN ('pending', 'building', 'ready')"
CLAIMABLE_PREDICATE = sa.text("export_jobs.state IN ('pending', 'building')")


class ExportJob(db.Model):
    """One export of a patient's data: asked for, built, downloaded once or expired."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        sa.Index(
            "uq_export_jobs_open",
            "patient_id",
            unique=True,
            postgresql_where=sa.text(OPEN_EXPORT_PREDICATE),
            sqlite_where=sa.text(OPEN_EXPORT_PREDICATE),
        ),
        # The worker's claim: jobs to build, by the time they become available.
        sa.Index(
            "ix_export_jobs_claim",
            "available_at",
            postgresql_where=sa.text("state IN ('pending', 'building')"),
            sqlite_where=sa.text("state IN ('pending', 'building')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    state: Mapped[ExportState] = mapped_column(
        sa.Enum(
            ExportState,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ExportState.PENDING,
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # When a worker may next claim it: at once, or when the building worker's lease ends.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    attempts: Mapped[int] = mapped_column(default=0)
    # The fencing token of the worker holding the claim: only it may mark the job ready.
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    # The finished zip in instance/exports (a name, never a path from outside).
    file_name: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The download link works until this instant (SCLERO_EXPORT_LINK_TTL after ready).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Downloaded, expired or failed: when the file went.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
