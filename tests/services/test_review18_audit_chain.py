"""Review of the audit chain (issue 18 point 3): rows slipped in beside the chain, and
text the databases cannot store.

A row inserted straight into ``audit_events`` with an id at or below 0, or past the
head's last id, was never walked by ``flask audit verify``, which then said "intact".
NUL (PostgreSQL) or a lone surrogate (both databases) in an event's text failed the
commit, taking the use-case and its event with it.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import row_hash
from app.extensions import db
from app.models import AuditEvent
from tests.conftest import NOW
from tests.conftest import is_postgres
from tests.services.test_audit_chain import _actor
from tests.services.test_audit_chain import _events
from tests.services.test_audit_chain import _tamper
from tests.services.test_audit_chain import _verify

FORGED = (
    "INSERT INTO audit_events (id, clinic_id, actor_id, actor_name, patient_id, action, "
    "detail, address, created_at, prev_hash, row_hash) VALUES (:id, NULL, NULL, 'Doc1', "
    ":patient, 'view', 'forged', '', :at, :prev, :hash)"
)


def _forge(in_app, world, event_id: int, prev: str = GENESIS) -> None:
    """A well-formed row (its own hash right) inserted directly, as an intruder would."""
    fields = dict(
        id=event_id,
        clinic_id=None,
        actor_id=None,
        actor_name="Doc1",
        patient_id=world.patient_a,
        action="view",
        detail="forged",
        address="",
        created_at=NOW,
    )
    digest = row_hash(fields, prev)
    at = NOW.replace(tzinfo=None)
    _tamper(in_app, FORGED, id=event_id, patient=world.patient_a, at=at, prev=prev, hash=digest)


@pytest.mark.parametrize("event_id", [0, -7])
def test_a_row_inserted_before_the_first_event_is_reported(world, runner, in_app, event_id):
    _events(in_app, world, 3)
    _forge(in_app, world, event_id)
    result = _verify(runner, "--batch", "2")
    assert result.exit_code == 1, result.output
    # The forged row itself chains from GENESIS, so the real first event no longer does.
    assert "chain broken at event #1" in result.output


def test_a_row_inserted_past_the_head_is_reported(world, runner, in_app):
    ids = _events(in_app, world, 3)
    last = in_app(
        lambda: db.session.scalar(sa.select(AuditEvent.row_hash).where(AuditEvent.id == ids[-1]))
    )
    _forge(in_app, world, 1000, prev=last)
    result = _verify(runner)
    assert result.exit_code == 1, result.output
    assert "event #1000 is not on the chain" in result.output


@pytest.mark.parametrize(
    "text",
    [
        "nul \x00 inside",
        "lone \ud800 surrogate",
        "emoji \U0001fa7a and RTL \u202egnp.exe",
        "x" * 5000,
    ],
    ids=["nul", "surrogate", "emoji-rtl", "huge"],
)
def test_odd_text_is_stored_and_the_chain_stays_intact(world, runner, in_app, text):
    def add() -> None:
        from app.services import audit as audit_service

        audit_service.audit(_actor(world, name=text), world.patient_a, "change", text[:40], text)
        db.session.commit()

    in_app(add)
    row = in_app(lambda: db.session.execute(sa.select(AuditEvent)).scalar_one())
    assert "\x00" not in row.detail and "\ud800" not in row.detail
    assert row.detail.startswith(text[:4]) and len(row.detail) <= 300
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "intact: 1 events" in result.output


# ------------------------------------------------------------------ the PostgreSQL guard


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PostgreSQL")
def test_verify_reports_a_disabled_trigger(world, runner, in_app):
    _events(in_app, world, 2)

    def alter(state: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(f"ALTER TABLE audit_events {state} TRIGGER audit_events_append_only")
            )

    in_app(alter, "DISABLE")
    try:
        result = _verify(runner)
    finally:
        in_app(alter, "ENABLE")
    assert result.exit_code == 1, result.output
    assert "audit_events_append_only is missing or disabled" in result.output
    assert _verify(runner).exit_code == 0


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PostgreSQL")
def test_verify_reports_the_bypass_set_by_default_for_the_database(world, runner, in_app):
    _events(in_app, world, 2)
    name = sa.engine.make_url(os.environ["TEST_DATABASE_URL"]).database

    def setting(sql: str) -> None:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(sql))
        db.engine.dispose()  # new connections read the database's defaults

    in_app(setting, f"ALTER DATABASE \"{name}\" SET sclero.audit_maintenance = 'on'")
    try:
        result = _verify(runner)
    finally:
        in_app(setting, f'ALTER DATABASE "{name}" RESET sclero.audit_maintenance')
    assert result.exit_code == 1, result.output
    assert "sclero.audit_maintenance is on for this connection by default" in result.output
    assert _verify(runner).exit_code == 0
