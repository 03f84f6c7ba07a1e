"""Sealed audit events (docs/decisions/account-closure.md): an erasure may blank an
event's texts and salt and the chain still verifies; any other change to a sealed event
is caught by ``flask audit verify``, and on PostgreSQL refused by the trigger. The
migration seals the events already stored (names and all), refuses a broken trail, and
its downgrade leaves a chain that verifies.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
import sqlalchemy as sa

from app import create_app
from app.domain.audit_chain import ERASED_TEXT
from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import row_hash
from app.extensions import db
from app.models import AuditEvent
from app.services import audit as audit_service
from app.services.audit_verify import verify
from config import TestingConfig
from tests.conftest import is_postgres
from tests.services.test_audit_chain import _events
from tests.services.test_audit_chain import _old_install
from tests.services.test_audit_chain import _tamper
from tests.services.test_audit_chain import _verify

BLANK = "UPDATE audit_events SET actor_name = :a, detail = :d, seal_salt = NULL WHERE id = :id"


def test_the_trigger_allows_the_domains_erased_words():
    from app.models import audit as audit_model

    assert audit_model.ERASED_TEXT == ERASED_TEXT
    assert f"NEW.detail = '{ERASED_TEXT}'" in audit_model.APPEND_ONLY_FUNCTION


def test_blanking_texts_and_salt_keeps_the_chain_whole(world, runner, in_app):
    ids = _events(in_app, world, 4)
    _tamper(in_app, BLANK, a=ERASED_TEXT, d=ERASED_TEXT, id=ids[1])
    result = _verify(runner, "--batch", "2")
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 4 events" in result.output


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        # Blanked, but other words put in: an erased event says nothing else.
        (BLANK, {"a": ERASED_TEXT, "d": "nothing happened"}),
        (BLANK, {"a": "Dr Nobody", "d": ERASED_TEXT}),
        # The words changed while the salt stays: they no longer match the seal.
        ("UPDATE audit_events SET detail = 'other' WHERE id = :id", {}),
        # A seal swapped for another: the row hash covers it.
        ("UPDATE audit_events SET seal = :s WHERE id = :id", {"s": "0" * 64}),
    ],
)
def test_any_other_change_to_a_sealed_event_is_reported(world, runner, in_app, sql, params):
    ids = _events(in_app, world, 3)
    _tamper(in_app, sql, id=ids[1], **params)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"event #{ids[1]} was edited" in result.output


def test_the_erasure_is_the_only_update_the_database_takes(world, in_app):
    if not is_postgres():
        pytest.skip("the append-only trigger is PostgreSQL's")
    ids = _events(in_app, world, 2)

    def attempt(sql: str, **params) -> None:
        with db.engine.begin() as conn:
            conn.execute(sa.text(sql), {"id": ids[0], **params})

    refused = [
        (BLANK, {"a": ERASED_TEXT, "d": "other words"}),
        ("UPDATE audit_events SET detail = :d, actor_name = :d WHERE id = :id", {"d": ERASED_TEXT}),
        (
            BLANK.replace("seal_salt = NULL", "seal_salt = NULL, action = 'x'"),
            {"a": ERASED_TEXT, "d": ERASED_TEXT},
        ),
    ]
    for sql, params in refused:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            in_app(attempt, sql, **params)
    in_app(attempt, BLANK, a=ERASED_TEXT, d=ERASED_TEXT)
    in_app(lambda: verify_ok())


def verify_ok() -> None:
    with db.engine.connect() as conn:
        assert verify(conn).intact


def _sealed_install(url: str) -> None:
    _old_install(url)  # seven events chained the old way, named "Dr 1".."Dr 7"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor_name, AuditEvent.seal_salt, AuditEvent.seal)
        ).all()
        assert len(rows) == 7 and all(salt and seal for _name, salt, seal in rows)
        # A stored event can now be blanked and the chain still holds.
        db.session.execute(
            sa.update(AuditEvent)
            .where(AuditEvent.id == 3)
            .values(actor_name=ERASED_TEXT, detail=ERASED_TEXT, seal_salt=None)
        )
        audit_service.security_event("sign-in failed", "10.0.0.2")
        db.session.commit()
        assert verify(db.session.connection()).count == 8
        db.session.remove()
        db.engine.dispose()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "downgrade", "b5d1e8a3c7f2"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()  # the downgrade's connections
    # This code's verify reads the seal columns the downgrade dropped: walk the chain
    # as the older code did, every event hashed over its texts.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM audit_events ORDER BY id")).mappings()
            prev = GENESIS
            for row in rows:
                fields = dict(row)
                if not isinstance(fields["created_at"], datetime):  # SQLite's text
                    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
                if fields["created_at"].tzinfo is None:
                    fields["created_at"] = fields["created_at"].replace(tzinfo=UTC)
                assert row["prev_hash"] == prev and row["row_hash"] == row_hash(fields, prev)
                prev = row["row_hash"]
            head = conn.execute(sa.text("SELECT last_hash, count FROM audit_chain_head")).one()
            assert tuple(head) == (prev, 8)
    finally:
        engine.dispose()


def test_sqlite_migration_seals_stored_events_and_downgrades(tmp_path):
    _sealed_install(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_postgres_migration_seals_stored_events_and_downgrades(empty_postgres):
    _sealed_install(empty_postgres)


def test_the_migration_refuses_a_broken_trail(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_install(url)
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "b5d1e8a3c7f2"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_events SET detail = 'rewritten' WHERE id = 4"))
        db.engine.dispose()
    result = runner.invoke(args=["db", "upgrade"])
    with app.app_context():
        db.engine.dispose()
    assert result.exit_code != 0
    assert "audit event #4 does not match the chain" in str(result.exception) + result.output
    with app.app_context():
        # Nothing was re-hashed: the break is still there for `flask audit verify`.
        with db.engine.connect() as conn:
            assert verify(conn).event_id == 4
        db.engine.dispose()
