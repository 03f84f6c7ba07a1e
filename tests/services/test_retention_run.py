"""``flask retention run`` (issue 20 point 4) with a pinned clock: a record is erased
once its retention has ended and not a second before; twice is once; a run after
downtime catches up; each erasure is audited and the audit chain still verifies.

Closures are made by completing them through the service (an admin's ``complete``), so
what is erased is what a real closure kept.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import CheckInKey
from app.models import ChecklistTick
from app.models import ClearanceScore
from app.models import Clinic
from app.models import Comment
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import OutcomeRating
from app.models import Patient
from app.models import Photo
from app.models import Role
from app.models import SessionFacts
from app.models import TaskTick
from app.models import Treatment
from app.models import User
from app.principal import ClinicInfo
from app.principal import Principal
from app.services.audit_verify import verify
from app.services.clinic import closure
from app.services.clinic import retention
from app.services.photos import storage
from tests.conftest import NOW
from tests.conftest import is_postgres
from tests.conftest import make_staff
from tests.web.test_access_matrix import _alices_objects

KEEP_UNTIL = datetime(2034, 11, 20, 12, 0, tzinfo=UTC)  # NOW + the default 8 years


def _admin(clinic_id: int) -> Principal:
    clinic = db.session.get(Clinic, clinic_id)
    email = f"admin{clinic_id}@example.test"
    user = db.session.scalar(sa.select(User).where(User.email == email))
    user = user or make_staff(clinic, email, Role.CLINIC_ADMIN)
    info = ClinicInfo(clinic.id, clinic.name, "", "999", "", "", "Europe/London")
    return Principal(user.id, user.email, user.name, Role.CLINIC_ADMIN, info, None, 0, "")


def _close(patient_id: int, at: datetime) -> int:
    """The patient asked and an admin completed the closure at ``at``."""
    patient = db.session.get(Patient, patient_id)
    db.session.add(
        AccountClosure(patient_id=patient_id, clinic_id=patient.clinic_id, requested_at=at)
    )
    db.session.execute(
        sa.update(Alert).where(Alert.patient_id == patient_id).values(acknowledged_at=at)
    )
    db.session.commit()
    admin = _admin(patient.clinic_id)
    found = db.session.scalar(
        sa.select(AccountClosure.id).where(AccountClosure.patient_id == patient_id)
    )
    closure.complete(admin, found, at, "127.0.0.1")
    return found


def _alice_with_a_record(world) -> dict:
    ids = _alices_objects(world.patient_a)
    db.session.add(Comment(patient_id=world.patient_a, author_name="Dr One", body="Looks good."))
    db.session.commit()
    photo = db.session.get(Photo, ids["photo"])
    ids["files"] = [storage.store().path(k) for k in (photo.full_key, photo.thumb_key)]
    ids["user"] = db.session.get(Patient, world.patient_a).user_id
    return ids


def _left(patient_id: int, user_id: int) -> dict[str, int]:
    def n(model, *where) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    return {
        "patient": n(Patient, Patient.id == patient_id),
        "user": n(User, User.id == user_id),
        "treatments": n(Treatment, Treatment.patient_id == patient_id),
        "checkins": n(CheckIn, CheckIn.patient_id == patient_id),
        "alerts": n(Alert, Alert.patient_id == patient_id),
        "comments": n(Comment, Comment.patient_id == patient_id),
        "photos": n(Photo, Photo.patient_id == patient_id),
        "closures": n(AccountClosure, AccountClosure.patient_id == patient_id),
    }


def _intact() -> bool:
    with db.engine.connect() as conn:
        return verify(conn).problem is None


def test_a_clock_before_the_end_erases_nothing(world, in_app):
    def check():
        ids = _alice_with_a_record(world)
        _close(world.patient_a, NOW)
        before = _left(world.patient_a, ids["user"])
        report = retention.run(KEEP_UNTIL - timedelta(seconds=1))
        assert report.erased == 0
        assert _left(world.patient_a, ids["user"]) == before
        assert before["checkins"] == 1 and before["comments"] == 1 and before["photos"] == 1
        assert all(os.path.exists(p) for p in ids["files"])

    in_app(check)


def test_at_the_end_the_record_is_erased_audited_and_the_chain_verifies(world, in_app):
    def check():
        ids = _alice_with_a_record(world)
        closure_id = _close(world.patient_a, NOW)
        events_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        report = retention.run(KEEP_UNTIL)
        assert (report.erased, report.files) == (1, 2)
        assert set(_left(world.patient_a, ids["user"]).values()) == {0}
        assert not any(os.path.exists(p) for p in ids["files"])
        # The audit trail keeps every event about Alice (ids only) plus one "erase".
        erased = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "erase")).all()
        assert [(e.patient_id, e.actor_id, e.actor_name) for e in erased] == [
            (world.patient_a, None, "retention run")
        ]
        assert f"closure #{closure_id}" in erased[0].detail and "2034-11-20" in erased[0].detail
        after = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        assert after == events_before + 1
        assert _intact()
        # The other patients are untouched.
        assert db.session.get(Patient, world.patient_b) is not None
        assert db.session.get(Patient, world.patient_c) is not None

    in_app(check)


def test_twice_is_once(world, in_app):
    def check():
        _alice_with_a_record(world)
        _close(world.patient_a, NOW)
        assert retention.run(KEEP_UNTIL).erased == 1
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        assert retention.run(KEEP_UNTIL + timedelta(days=1)).erased == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events
        assert _intact()

    in_app(check)


def test_a_run_after_downtime_catches_up_every_ended_record(world, in_app):
    def check():
        _close(world.patient_a, NOW)
        _close(world.patient_b, NOW + timedelta(days=200))
        _close(world.patient_c, NOW + timedelta(days=5000))  # not ended yet
        # No run for a year after both ended: the next one erases both, not the third.
        report = retention.run(KEEP_UNTIL + timedelta(days=565))
        assert report.erased == 2
        assert db.session.get(Patient, world.patient_a) is None
        assert db.session.get(Patient, world.patient_b) is None
        assert db.session.get(Patient, world.patient_c) is not None
        assert _intact()

    in_app(check)


def test_the_policy_applied_is_the_one_at_completion(world, in_app):
    def check():
        db.session.get(Clinic, world.clinic1).retention_years = 2
        db.session.commit()
        _close(world.patient_a, NOW)
        # A later change of the clinic's policy does not move the promise made.
        db.session.get(Clinic, world.clinic1).retention_years = 20
        db.session.commit()
        assert retention.run(NOW.replace(year=2028) - timedelta(seconds=1)).erased == 0
        assert retention.run(NOW.replace(year=2028)).erased == 1

    in_app(check)


def test_the_cli_runs_with_a_pinned_now_and_refuses_a_bad_one(world, in_app, runner):
    in_app(_close, world.patient_a, NOW)
    early = runner.invoke(args=["retention", "run", "--now", "2034-11-20T11:59:59+00:00"])
    assert early.exit_code == 0 and "0 records erased" in early.output
    done = runner.invoke(args=["retention", "run", "--now", "2034-11-20T12:00:00+00:00"])
    assert done.exit_code == 0 and "1 records erased" in done.output
    again = runner.invoke(args=["retention", "run", "--now", "2034-11-20T12:00:00+00:00"])
    assert again.exit_code == 0 and "0 records erased" in again.output
    for bad in ("yesterday", "2034-11-20T12:00:00"):
        refused = runner.invoke(args=["retention", "run", "--now", bad])
        assert refused.exit_code != 0 and "Invalid value" in refused.output


def test_an_erased_record_leaves_the_clinics_outcome_totals(world, in_app):
    """The cascade deletes the sessions where the outcome totals would not see it: the
    erasure takes them out first, so the totals still equal a recount."""
    from app.services.outcomes import tallies

    def check():
        _alice_with_a_record(world)
        clinic_id = db.session.get(Patient, world.patient_a).clinic_id
        tallies.rebuild(db.session.connection(), clinic_id)
        db.session.commit()
        counted = sorted(tallies.read(clinic_id))
        assert counted  # Alice's treated session is in them
        _close(world.patient_a, NOW)
        assert retention.run(KEEP_UNTIL).erased == 1
        kept = sorted(tallies.read(clinic_id))
        assert kept != counted
        tallies.rebuild(db.session.connection(), clinic_id)
        db.session.commit()
        assert sorted(tallies.read(clinic_id)) == kept


@pytest.mark.skipif(not is_postgres(), reason="two runs at once need PostgreSQL")
def test_two_runs_at_once_erase_each_record_once(app, world, in_app):
    """Two cron hosts start ``retention run`` in the same second: each record is erased
    once, with one "erase" event, and the audit chain still verifies."""

    def close_all():
        for patient_id in (world.patient_a, world.patient_b, world.patient_c):
            _close(patient_id, NOW)

    in_app(close_all)
    start = threading.Barrier(2)
    reports: list[retention.RetentionReport] = []
    errors: list[BaseException] = []

    def runner() -> None:
        with app.app_context():
            try:
                start.wait(5)
                reports.append(retention.run(KEEP_UNTIL))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(reports) == 2
    assert sum(r.erased for r in reports) == 3

    def after():
        erased = db.session.scalars(
            sa.select(AuditEvent.patient_id).where(AuditEvent.action == "erase")
        ).all()
        assert sorted(erased) == sorted([world.patient_a, world.patient_b, world.patient_c])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0
        assert _intact()

    in_app(after)


def _extras(ids: dict) -> None:
    """Rows in every table that hangs off a session or a check-in: outcomes, scores,
    facts, ticks, check-in keys, and a clinician's alert push about Alice."""
    treatment = db.session.scalar(
        sa.select(Treatment.id).where(Treatment.patient_id == ids["patient"])
    )
    db.session.add_all(
        [
            OutcomeRating(
                treatment_id=treatment, patient_id=ids["patient"], improvement=50, satisfaction=4
            ),
            ClearanceScore(treatment_id=treatment, site="left calf", score=2),
            SessionFacts(treatment_id=treatment),
            ChecklistTick(treatment_id=treatment, item_key="stockings"),
            TaskTick(treatment_id=treatment, task_key="walk", day=1),
            CheckInKey(client_key="k-alice", checkin_id=ids["checkin"]),
            OutboxMessage(
                patient_id=ids["patient"],
                recipient_user_id=ids["clinician"],
                key="alert:alice",
                kind="alert",
                link="/clinic/alerts",
                due_at=NOW,
                available_at=NOW,
                state=OutboxState.SENT,
            ),
        ]
    )
    db.session.commit()


_ROOTS = {"patients", "users", "treatments", "checkins", "photos"}


def _references(erased: dict[str, set[int]]) -> dict[str, int]:
    """Rows in any table whose foreign key points at an erased row, by table.column."""
    found = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table.name
                if target in _ROOTS and erased[target]:
                    n = db.session.scalar(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(column.in_(sorted(erased[target])))
                    )
                    found[f"{table.name}.{column.name}"] = n
    return found


def test_erasure_leaves_no_row_pointing_at_the_erased_record(world, in_app):
    """Every table, found from the schema rather than listed: after erasure no row
    refers to Alice's account, patient, sessions, check-ins or photos (the audit trail
    names ids without a foreign key, and is kept on purpose)."""

    def check():
        ids = _alice_with_a_record(world)
        ids["patient"] = world.patient_a
        ids["clinician"] = world.clinician1
        _extras(ids)
        erased = {
            "patients": {world.patient_a},
            "users": {ids["user"]},
            "treatments": set(
                db.session.scalars(
                    sa.select(Treatment.id).where(Treatment.patient_id == world.patient_a)
                )
            ),
            "checkins": set(
                db.session.scalars(
                    sa.select(CheckIn.id).where(CheckIn.patient_id == world.patient_a)
                )
            ),
            "photos": set(
                db.session.scalars(sa.select(Photo.id).where(Photo.patient_id == world.patient_a))
            ),
        }
        before = _references(erased)
        for name in (
            "outcome_ratings.treatment_id",
            "clearance_scores.treatment_id",
            "session_facts.treatment_id",
            "checklist_ticks.treatment_id",
            "task_ticks.treatment_id",
            "checkin_keys.checkin_id",
            "outbox.patient_id",
            "comments.patient_id",
            "alerts.checkin_id",
            "photos.patient_id",
        ):
            assert before[name] >= 1, name  # the check below is not empty
        _close(world.patient_a, NOW)
        assert retention.run(KEEP_UNTIL).erased == 1
        left = {k: n for k, n in _references(erased).items() if n}
        assert left == {}

    in_app(check)


def test_a_score_saved_during_an_erasure_leaves_no_count_behind(world, in_app, monkeypatch):
    """Review rvoutc: the erasure takes the patient's sessions out of the totals, then
    deletes them. A clinician's score saved between the two (under the patient's lock,
    as ``save_score`` does) would add a count the cascade then strands: the erasure must
    hold the patient's lock from before it reads the totals (PostgreSQL with
    TEST_DATABASE_URL; SQLite serialises every write already)."""
    import threading

    from app.models import ClearanceScore
    from app.services.locking import lock_patient
    from app.services.outcomes import tallies

    app = in_app(lambda: __import__("flask").current_app._get_current_object())

    def setup():
        _alice_with_a_record(world)
        tid = db.session.scalar(
            sa.select(Treatment.id).where(
                Treatment.patient_id == world.patient_a, Treatment.status == "done"
            )
        )
        tallies.rebuild(db.session.connection())
        db.session.commit()
        _close(world.patient_a, NOW)
        return tid, db.session.get(Patient, world.patient_a).clinic_id

    tid, clinic_id = in_app(setup)
    done = threading.Event()
    errors: list[BaseException] = []

    def score() -> None:
        with app.app_context():
            try:
                lock_patient(world.patient_a)
                before = tallies.state(tid)
                db.session.add(ClearanceScore(treatment_id=tid, site="left-calf-inner", score=2))
                db.session.flush()
                tallies.apply(before, tallies.state(tid))
                db.session.commit()
            except BaseException as exc:  # the session is gone: refused, as it should be
                errors.append(exc)
                db.session.rollback()
            finally:
                done.set()
                db.session.remove()

    real = tallies.forget_patient
    worker = threading.Thread(target=score, daemon=True)

    def forget_then_let_a_score_in(patient_id: int) -> None:
        real(patient_id)
        worker.start()
        done.wait(1.5)  # blocked by the erasure's lock, if it holds one

    monkeypatch.setattr(retention.tallies, "forget_patient", forget_then_let_a_score_in)
    assert in_app(retention.run, KEEP_UNTIL).erased == 1
    worker.join(30)
    assert not worker.is_alive()

    def totals():
        kept = sorted(tallies.read(clinic_id))
        tallies.rebuild(db.session.connection(), clinic_id)
        recounted = sorted(tallies.read(clinic_id))
        db.session.rollback()
        return kept, recounted

    kept, recounted = in_app(totals)
    assert kept == recounted
