"""A patient's request to close their account, and what its completion kept (issue 20
point 4).

One row per patient (a double submit or a second request finds the first). The patient
asks (``requested_at``); a clinic admin completes it (``completed_at``), which removes the
sign-in, devices, email address and calendar links at once and fixes ``keep_until``,
the end of the clinic's retention period for the clinical record; ``flask retention
run`` erases the record once that instant has passed (app/services/clinic/retention.py).
The row goes with the patient at erasure (ON DELETE CASCADE): what remains is the audit
trail's "erased" event, which names only ids.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.dbtypes import UTCDateTime
from app.extensions import db


class AccountClosure(db.Model):
    __tablename__ = "account_closures"
    __table_args__ = (
        # `flask retention run`: completed closures whose retention has ended.
        sa.Index("ix_account_closures_keep_until", "keep_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), unique=True
    )
    # The admin's list of requests reads by clinic.
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # The policy the patient was told when they asked, and that completion applies, so
    # a later change of the clinic's settings does not move a promise already made to
    # the patient (empty on a request stored before this: the clinic's current policy).
    retention_years: Mapped[int | None]
    photos_policy: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    # The clinical record may be erased from this instant (None until completed).
    keep_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
