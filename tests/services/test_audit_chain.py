"""The audit trail's hash chain (issue 18 point 3, docs/audit.md): every writer appends
to one chain, `flask audit verify` finds the first edited or missing event, and on
PostgreSQL the app's own connection cannot change or remove events.
"""

from __future__ import annotations

import sqlite3
import threading
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models.audit import AuditChainHead
from app.services import audit as audit_service
from app.services.audit_verify import verify
from config import TestingConfig
from tests.conftest import is_postgres
from tests.conftest import login
from tests.services.test_clinic_cli import create_args

needs_postgres = pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PG")


def _verify(runner, *args: str):
    return runner.invoke(args=["audit", "verify", *args])


def _ids(in_app) -> list[int]:
    return in_app(lambda: list(db.session.scalars(sa.select(AuditEvent.id).order_by("id"))))


def _tamper(in_app, sql: str, **params) -> None:
    """Run ``sql`` as someone with direct database access would: on PostgreSQL with the
    trigger's maintenance bypass set, as only a session able to run any SQL could."""

    def run():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL sclero.audit_maintenance = 'on'"))
            conn.execute(sa.text(sql), params)

    in_app(run)


def _actor(world, name: str = "Doc1") -> SimpleNamespace:
    # The writers read only these three attributes of a Principal.
    return SimpleNamespace(id=world.clinician1, clinic_id=world.clinic1, name=name)


def _events(in_app, world, n: int) -> list[int]:
    """``n`` committed audit events, one per transaction; their ids."""

    def add(i: int) -> None:
        audit_service.audit(_actor(world), world.patient_a, "view", "10.0.0.1", f"#{i}")
        db.session.commit()

    for i in range(n):
        in_app(add, i)
    return _ids(in_app)


def test_a_journey_leaves_one_chain_that_verify_accepts(app, world, runner, in_app):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert doc.get("/clinic/").status_code == 200  # audit_views: one executemany
    assert doc.get(f"/clinic/patients/{world.patient_a}").status_code == 200  # audit()
    assert doc.get(f"/clinic/patients/{world.patient_c}").status_code == 404  # refuse()
    # An AuditEvent added to the session directly (as `flask clinic create` does).
    created = runner.invoke(args=create_args())
    assert created.exit_code == 0, created.output
    actors = in_app(lambda: list(db.session.scalars(sa.select(AuditEvent.actor_name))))
    assert "command line" in actors  # chained at flush, after the view events
    ids = _ids(in_app)
    assert len(ids) >= 4 and ids == list(range(1, len(ids) + 1))
    chain = in_app(
        lambda: db.session.execute(
            sa.select(AuditEvent.prev_hash, AuditEvent.row_hash).order_by(AuditEvent.id)
        ).all()
    )
    links = zip(chain, chain[1:], strict=False)
    assert all(row.prev_hash == before.row_hash for before, row in links)
    result = _verify(runner)
    assert result.exit_code == 0, (result.output, created.output)
    assert result.output.strip() == f"audit chain intact: {len(ids)} events"


def test_an_empty_trail_is_intact(runner):
    result = _verify(runner)
    assert result.exit_code == 0 and "audit chain intact: 0 events" in result.output


def test_an_edited_event_is_reported_with_its_id(world, runner, in_app):
    ids = _events(in_app, world, 5)
    _tamper(in_app, "UPDATE audit_events SET detail = 'nothing to see' WHERE id = :id", id=ids[2])
    result = _verify(runner, "--batch", "2")  # the walk crosses batches
    assert result.exit_code == 1
    assert f"event #{ids[2]} was edited" in result.output


def test_an_event_rewritten_with_a_new_hash_breaks_the_next_link(world, runner, in_app):
    ids = _events(in_app, world, 4)

    def rewrite():
        # The event's texts and seal redone as the app would (its salt is in the row).
        from app.domain.audit_chain import seal
        from app.domain.audit_chain import sealed_row_hash

        row = db.session.execute(sa.select(AuditEvent).where(AuditEvent.id == ids[1])).scalar()
        fields = {name: getattr(row, name) for name in ("id", "clinic_id", "actor_id")}
        fields |= {"patient_id": row.patient_id, "action": row.action, "address": row.address}
        fields["created_at"] = row.created_at
        fields["seal"] = seal(row.seal_salt, "someone else", row.detail)
        return fields["seal"], sealed_row_hash(fields, row.prev_hash)

    sealed, digest = in_app(rewrite)
    _tamper(
        in_app,
        "UPDATE audit_events SET actor_name = 'someone else', seal = :s, row_hash = :h "
        "WHERE id = :id",
        s=sealed,
        h=digest,
        id=ids[1],
    )
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"chain broken at event #{ids[2]}" in result.output


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_deleted_event_is_reported(world, runner, in_app, which):
    ids = _events(in_app, world, 5)
    gone = {"first": ids[0], "middle": ids[2], "last": ids[-1]}[which]
    _tamper(in_app, "DELETE FROM audit_events WHERE id = :id", id=gone)
    result = _verify(runner)
    assert result.exit_code == 1
    if which == "first":
        assert f"chain broken at event #{ids[1]}" in result.output
        assert "at the start of the trail" in result.output
    elif which == "middle":
        assert f"chain broken at event #{ids[3]}" in result.output
        assert f"missing after event #{ids[1]}" in result.output
    else:
        assert f"events are missing at the end: the head records 5 events up to #{gone}" in (
            result.output
        )


def test_a_removed_head_is_reported_when_events_remain(world, runner, in_app):
    _events(in_app, world, 2)
    _tamper(in_app, "DELETE FROM audit_chain_head")
    result = _verify(runner)
    assert result.exit_code == 1 and "head row is missing" in result.output


def test_security_event_with_no_clinic_is_stored_and_chained(app, runner, in_app):
    def record():
        audit_service.security_event("sign-in failed", "203.0.113.9", "no such account")
        db.session.commit()

    in_app(record)
    rows = in_app(
        lambda: db.session.execute(sa.select(AuditEvent.clinic_id, AuditEvent.actor_name)).all()
    )
    assert [tuple(r) for r in rows] == [(None, "(sign-in)")]
    assert _verify(runner).exit_code == 0


def test_a_rolled_back_transaction_appends_nothing(world, runner, in_app):
    def rolled_back():
        audit_service.audit(_actor(world), None, "view", "10.0.0.1")
        db.session.rollback()
        db.session.commit()

    in_app(rolled_back)
    assert _ids(in_app) == []
    assert in_app(lambda: db.session.get(AuditChainHead, 1)) is None


def test_a_failed_savepoint_keeps_the_events_queued_before_it(world, runner, in_app):
    def savepoint_fails():
        audit_service.audit(_actor(world), world.patient_a, "view", "10.0.0.1", "kept")
        # A unique-key race retried in a savepoint, as some use-cases do: the slug is taken.
        with pytest.raises(sa.exc.IntegrityError):
            with db.session.begin_nested():
                db.session.add(Clinic(slug="north", name="N", phone="1", emergency_number="9"))
        db.session.commit()

    in_app(savepoint_fails)
    details = in_app(lambda: list(db.session.scalars(sa.select(AuditEvent.detail))))
    assert details == ["kept"]
    assert _verify(runner).exit_code == 0


def test_an_orm_audit_event_cannot_be_changed_through_the_session(world, in_app):
    ids = _events(in_app, world, 1)

    def edit():
        db.session.get(AuditEvent, ids[0]).detail = "changed"
        db.session.commit()

    with pytest.raises(RuntimeError, match="append-only"):
        in_app(edit)


def test_concurrent_appends_keep_one_unbroken_chain(app, world, runner, in_app):
    threads, rounds, errors = 6, 8, []
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(rounds):
                    if i % 2:
                        audit_service.audit_views(
                            _actor(world, f"w{n}"), [world.patient_a, world.patient_b], "w", "d"
                        )
                    else:
                        audit_service.security_event("sign-in failed", "w", f"{n}/{i}")
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    expected = threads * (rounds // 2 + 2 * (rounds // 2))
    assert _ids(in_app) == list(range(1, expected + 1))
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert f"intact: {expected} events" in result.output


@pytest.mark.postgres
@needs_postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET detail = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
        "DELETE FROM audit_chain_head",
    ],
)
def test_postgres_refuses_changes_through_the_apps_connection(world, in_app, statement):
    ids = _events(in_app, world, 2)

    def attempt():
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))

    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        in_app(attempt)
    assert _ids(in_app) == ids


# ------------------------------------------------------------------ the migration


def _old_install(url: str) -> None:
    """A database at the revision before the chain, with a clinic and audit events."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "60e7a1470d84"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO clinics (id, slug, name, phone, emergency_number, "
                    "opening_hours, hours, out_of_hours, out_of_hours_name, "
                    "out_of_hours_phone, timezone, reply_to_email, default_protocol_key, "
                    "default_quiet_start, default_quiet_end) VALUES (1, 'old', 'Old', '1', "
                    "'999', '', '', '', '', '', 'Europe/London', '', '', '21:00:00', "
                    "'08:00:00')"
                )
            )
            for i in range(1, 8):
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_events (clinic_id, actor_id, actor_name, "
                        "patient_id, action, detail, address, created_at) VALUES (1, NULL, "
                        ":name, NULL, 'view', :detail, '10.0.0.1', :at)"
                    ),
                    {"name": f"Dr {i}", "detail": f"old #{i}", "at": f"2026-11-0{i} 10:00:00"},
                )
        db.engine.dispose()


def _upgrade_and_verify(url: str) -> None:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["audit", "verify", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 7 events" in result.output
    with app.app_context():
        # The next event continues the chain the migration built.
        audit_service.security_event("sign-in failed", "10.0.0.2")
        db.session.commit()
        assert verify(db.session.connection()).count == 8
        db.session.remove()
        db.engine.dispose()


def test_sqlite_migration_chains_the_events_already_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_install(url)
    _upgrade_and_verify(url)
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (8,)


@pytest.mark.postgres
def test_postgres_migration_chains_stored_events_and_installs_the_trigger(empty_postgres):
    _old_install(empty_postgres)
    _upgrade_and_verify(empty_postgres)
    engine = sa.create_engine(empty_postgres)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM audit_events"))
    finally:
        engine.dispose()


def test_an_id_given_as_text_is_stored_and_hashed_as_a_number(world, runner, in_app):
    def record():
        clinic, user = str(world.clinic1), str(world.clinician1)
        audit_service.security_event("sign-in failed", "10.0.0.3", clinic_id=clinic, user_id=user)
        db.session.commit()

    in_app(record)
    rows = in_app(
        lambda: db.session.execute(sa.select(AuditEvent.clinic_id, AuditEvent.actor_id)).all()
    )
    assert [tuple(r) for r in rows] == [(world.clinic1, world.clinician1)]
    assert _verify(runner).exit_code == 0
