"""The outcomes migration (b4a543c3e3ae) on a database with data: upgrade from the
previous head fills ``session_facts`` from the check-ins already stored, exactly as the
check-in service keeps it, on SQLite and on PostgreSQL; and its backfill reads the
tables by explicit columns, not through app.models (which follow the newest schema).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import CheckIn
from app.models import Treatment
from app.services.outcomes import facts
from app.services.protocols import protocol_by_version
from config import TestingConfig
from tests.conftest import Clock
from tests.conftest import world_at_revision

MIGRATION = next(Path("migrations/versions").glob("b4a543c3e3ae_*.py"))
PREVIOUS = "b7c41e9a2f10"


def _add_checkins() -> dict:
    """Check-ins on two sessions, stored as they were before this revision (no
    session_facts yet), and the rows the check-in service would keep for them."""
    sessions = list(db.session.scalars(sa.select(Treatment).order_by(Treatment.id)))
    answers = [
        {"pain": 2, "bruising": "severe", "skin": ["red-vessels"], "red_flags": []},
        {"bruising": "mild", "skin": [], "red_flags": ["calf-pain-swelling"]},
        {"stockings_day": True, "stockings_night": False, "skin": ["brown"]},
        {"stockings_day": None},
    ]
    done = [t for t in sessions if t.treated_at is not None][:2]
    assert len(done) == 2
    for t in done:
        for day, a in enumerate(answers):
            db.session.add(
                CheckIn(
                    patient_id=t.patient_id,
                    clinic_id=t.patient.clinic_id,
                    treatment_id=t.id,
                    day=day,
                    on_date=(t.treated_at + timedelta(days=day)).date(),
                    answers=a,
                    pain=1,
                    bruising="mild",
                    level="none",
                )
            )
    db.session.commit()
    expected = {}
    for t in done:
        protocol = protocol_by_version(t.protocol_version_id, t.protocol_version.sha256)
        rows = db.session.execute(
            sa.select(CheckIn.day, CheckIn.answers).where(CheckIn.treatment_id == t.id)
        ).all()
        expected[t.id] = facts.facts_of(t.id, rows, facts.Clot.of(protocol))
    return expected


def _upgrade_with_data(url: str) -> None:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, SCLERO_NOW=Clock())
    runner = app.test_cli_runner()
    world_at_revision(app, runner, PREVIOUS)
    with app.app_context():
        expected = _add_checkins()
        db.session.remove()
    # Up to this migration only: later ones reshape session_facts.
    result = runner.invoke(args=["db", "upgrade", MIGRATION.name.split("_")[0]])
    assert result.exit_code == 0, result.output
    with app.app_context():
        table = sa.table("session_facts", *(sa.column(k) for k in next(iter(expected.values()))))
        got = {r["treatment_id"]: dict(r) for r in db.session.execute(sa.select(table)).mappings()}
        db.session.remove()
        db.engine.dispose()
    assert got == expected
    some = next(iter(got.values()))
    assert some["bruising"] and some["matting"] and some["pigmentation"] and some["dvt"]
    # None ("not answered") is counted as neither worn nor not worn.
    assert (some["day_yes"], some["day_no"], some["night_no"]) == (1, 0, 1)


def test_sqlite_upgrade_with_existing_checkins_fills_session_facts(tmp_path):
    _upgrade_with_data(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_with_existing_checkins_fills_session_facts(empty_postgres):
    _upgrade_with_data(empty_postgres)


def test_the_backfill_uses_no_models_or_services():
    # app.models follow the newest schema: a column added to checkins or session_facts
    # later would break an ORM insert or select run on a database at this revision.
    imports = [
        line.strip()
        for line in MIGRATION.read_text().splitlines()
        if line.strip().startswith(("import ", "from "))
    ]
    assert imports and not [i for i in imports if "app.models" in i or "app.services" in i]
