"""The outcome totals migration (8808e182690c) on a database with data: upgrade from the
previous revision fills ``outcome_tallies`` exactly as a recount by the service gives
(app/services/outcomes/tallies.py), drops the rating and score copies from
``session_facts``, and downgrade puts the copies back; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.dbtypes import UTCDateTime
from app.extensions import db
from app.services.outcomes import tallies
from config import TestingConfig
from tests.conftest import NOW
from tests.conftest import Clock
from tests.conftest import world_at_revision

MIGRATION = next(Path("migrations/versions").glob("8808e182690c_*.py"))
# The revision before it, as the migration itself names it (re-chained at merges).
PREVIOUS = re.search(r"^down_revision = ['\"](\w+)['\"]", MIGRATION.read_text(), re.M).group(1)

_treatments = sa.table(
    "treatments",
    sa.column("id"),
    sa.column("patient_id"),
    sa.column("status"),
)
_facts_then = sa.table(
    "session_facts",
    *(
        sa.column(k)
        for k in (
            "treatment_id",
            "bruising",
            "pigmentation",
            "matting",
            "skin_breakdown",
            "dvt",
            "day_yes",
            "day_no",
            "night_yes",
            "night_no",
            "improvement",
            "satisfaction",
            "side_effects",
            "score",
        )
    ),
)
_ratings = sa.table(
    "outcome_ratings",
    *(
        sa.column(k)
        for k in (
            "treatment_id",
            "patient_id",
            "improvement",
            "satisfaction",
            "side_effects",
        )
    ),
    sa.column("history", sa.JSON),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
)
_scores = sa.table(
    "clearance_scores",
    *(sa.column(k) for k in ("treatment_id", "site", "score")),
    sa.column("scored_at", UTCDateTime),
)


def _add_outcomes() -> list[int]:
    """At the previous revision: a rating and a score on one done session, facts (with
    their copies, as that revision kept them) on both; :returns: the done sessions."""
    conn = db.session.connection()
    done = conn.execute(
        sa.select(_treatments.c.id, _treatments.c.patient_id)
        .where(_treatments.c.status == "done")
        .order_by(_treatments.c.id)
    ).all()
    assert len(done) >= 2
    (first, pid), (second, _pid) = done[0], done[1]
    later = NOW + timedelta(days=50)
    conn.execute(
        sa.insert(_ratings).values(
            treatment_id=first,
            patient_id=pid,
            improvement=70,
            satisfaction=4,
            side_effects="matting",
            history=[],
            created_at=later,
            updated_at=later,
        )
    )
    conn.execute(
        sa.insert(_scores).values(
            treatment_id=first, site="left-calf-inner", score=3, scored_at=later
        )
    )
    flags = {"bruising": False, "pigmentation": True, "matting": False, "skin_breakdown": False}
    conn.execute(
        sa.insert(_facts_then),
        [
            {"treatment_id": first, **flags, "dvt": True, "day_yes": 2, "day_no": 1}
            | {"night_yes": 0, "night_no": 1, "improvement": 70, "satisfaction": 4}
            | {"side_effects": "matting", "score": 3},
            {"treatment_id": second, **flags, "dvt": False, "day_yes": 0, "day_no": 0}
            | {"night_yes": 1, "night_no": 0, "improvement": None, "satisfaction": None}
            | {"side_effects": None, "score": None},
        ],
    )
    db.session.commit()
    return [first, second]


def _tally_rows() -> list[tuple]:
    table = sa.table(
        "outcome_tallies",
        *(sa.column(k) for k in ("clinic_id", "protocol_version_id", "sclerosant", "key", "count")),
    )
    return sorted(tuple(r) for r in db.session.execute(sa.select(table)))


def _upgrade_and_down(url: str) -> None:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, SCLERO_NOW=Clock())
    runner = app.test_cli_runner()
    world_at_revision(app, runner, PREVIOUS)
    with app.app_context():
        first, _second = _add_outcomes()
        db.session.remove()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        migrated = _tally_rows()
        with db.engine.begin() as conn:
            tallies.rebuild(conn)
        recounted = _tally_rows()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("session_facts")}
        db.session.remove()
    assert migrated == recounted
    got = Counter()  # over both clinics (the two sessions are Alice's and Cara's)
    for _clinic, _version, _agent, key, count in migrated:
        got[key] += count
    assert got["improvement:70"] == 1 and got["clearance:3"] == 1 and got["effect:matting"] == 1
    assert got["dvt"] == 1 and got["pigmentation"] == 2 and got["night_yes"] == 1
    assert not {"improvement", "satisfaction", "side_effects", "score"} & columns
    result = runner.invoke(args=["db", "downgrade", PREVIOUS])
    assert result.exit_code == 0, result.output
    with app.app_context():
        copies = db.session.execute(
            sa.select(
                _facts_then.c.improvement, _facts_then.c.side_effects, _facts_then.c.score
            ).where(_facts_then.c.treatment_id == first)
        ).one()
        tables = set(sa.inspect(db.engine).get_table_names())
        db.session.remove()
        db.engine.dispose()
    assert tuple(copies) == (70, "matting", 3) and "outcome_tallies" not in tables


def test_sqlite_upgrade_fills_the_totals_as_a_recount_does(tmp_path):
    _upgrade_and_down(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_fills_the_totals_as_a_recount_does(empty_postgres):
    _upgrade_and_down(empty_postgres)


def test_the_migration_uses_no_models_or_services():
    imports = [
        line.strip()
        for line in MIGRATION.read_text().splitlines()
        if line.strip().startswith(("import ", "from "))
    ]
    assert imports and not [i for i in imports if "app.models" in i or "app.services" in i]
