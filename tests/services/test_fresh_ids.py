"""A patient created after an erasure never gets the erased patient's id (on SQLite,
which hands out the highest id plus one again). Found by an adversarial test: the new
patient inherited the erased one's FHIR Patient id and, in "Download my data", the
audit events the erasure keeps by patient id."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.domain.fhir import resource_id
from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.models import ProtocolVersion
from app.models import User
from app.services.clinic import patients
from app.services.clinic import retention
from tests.conftest import NOW
from tests.services.test_retention_run import KEEP_UNTIL
from tests.services.test_retention_run import _admin
from tests.services.test_retention_run import _close


def _create(world, email: str) -> Patient:  # noqa: ANN001
    admin = _admin(world.clinic1)
    version = db.session.scalar(
        sa.select(ProtocolVersion.id).where(ProtocolVersion.clinic_id == world.clinic1)
    )
    return patients.create_patient(
        admin,
        name="Newest Patient",
        email=email,
        timezone="Europe/London",
        appointment_local=datetime(2034, 12, 20, 10, 0),
        protocol_version_id=version,
        now=KEEP_UNTIL,
    ).patient


def test_an_erased_patients_id_is_never_given_again(world, in_app):
    def run():
        newest = _create(world, "newest@patients.example")
        old_id, old_user = newest.id, newest.user_id
        _close(old_id, NOW)
        assert retention.run(KEEP_UNTIL).erased == 1
        assert db.session.get(Patient, old_id) is None
        # The erasure keeps its events by patient id (the chain covers the id).
        kept = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == old_id)
        )
        assert kept > 0
        fresh = _create(world, "next@patients.example")
        return old_id, old_user, fresh.id, fresh.user_id

    old_id, old_user, new_id, new_user = in_app(run)
    assert new_id > old_id
    assert resource_id("Patient", new_id) != resource_id("Patient", old_id)
    # Nothing the erased patient did is now listed as the new patient's: only their own
    # creation names them.
    about_new = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.patient_id == new_id)
        ).all()
    )
    assert about_new == ["create patient"]
    assert in_app(lambda: db.session.get(User, new_user).email) == "next@patients.example"
