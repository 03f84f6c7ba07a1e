"""Migrations: upgrade an empty database to head, then `flask db check` finds no drift.

Runs on SQLite always and on an empty PostgreSQL database made for the test when
TEST_DATABASE_URL points at PostgreSQL (required in CI).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from config import TestingConfig


def _upgrade_and_check(url: str) -> None:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "users",
        "treatments",
        "protocol_versions",
        "auth_sessions",
        "alembic_version",
    } <= tables
    # And back down again, so every downgrade() works.
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_sqlite_upgrade_to_head_has_no_drift(tmp_path):
    _upgrade_and_check(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_to_head_has_no_drift(empty_postgres):
    _upgrade_and_check(empty_postgres)
