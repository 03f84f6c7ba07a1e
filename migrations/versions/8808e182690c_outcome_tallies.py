"""outcome tallies: the clinic's running totals for its outcomes page

Issue 19 Benchmark: the outcomes page for 10,000 patients within 3x the dashboard's
time. Adding up every session on each view cost 5 to 6 times the dashboard on SQLite
(bench/outcomes.py); ``outcome_tallies`` keeps the totals per clinic, protocol version
and sclerosant, changed with what they count (app/services/outcomes/tallies.py), and
is filled here from the rows already stored.

``session_facts`` loses its copies of each session's rating and clearance score: their
own rows (``outcome_ratings``, ``clearance_scores``) are the one source.

Revision ID: 8808e182690c
Revises: e7a20c5d9b14
Create Date: 2026-12-07 05:40:00.000000

"""
from collections import Counter

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8808e182690c"
down_revision = 'e7a20c5d9b14'
branch_labels = None
depends_on = None

_COPIES = ("improvement", "satisfaction", "side_effects", "score")


def upgrade():
    op.create_table(
        "outcome_tallies",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("sclerosant", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_outcome_tallies_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_outcome_tallies_protocol_version_id_protocol_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "clinic_id", "protocol_version_id", "sclerosant", "key", name=op.f("pk_outcome_tallies")
        ),
    )
    with op.batch_alter_table("session_facts", schema=None) as batch_op:
        for column in _COPIES:
            batch_op.drop_column(column)
    _backfill(op.get_bind())


# The tables as they are at this revision, by explicit columns: app.models follow the
# newest schema, which a migration must not (a later column would break it).
_FLAGS = ("bruising", "pigmentation", "matting", "skin_breakdown", "dvt")
_STOCKINGS = ("day_yes", "day_no", "night_yes", "night_no")
_patients = sa.table("patients", sa.column("id"), sa.column("clinic_id"))
_treatments = sa.table(
    "treatments",
    sa.column("id"),
    sa.column("patient_id"),
    sa.column("protocol_version_id"),
    sa.column("status"),
    sa.column("sclerosant"),
)
_facts = sa.table(
    "session_facts",
    sa.column("treatment_id"),
    *(sa.column(k) for k in (*_FLAGS, *_STOCKINGS)),
)
_ratings = sa.table(
    "outcome_ratings",
    sa.column("treatment_id"),
    sa.column("improvement"),
    sa.column("satisfaction"),
    sa.column("side_effects"),
)
_scores = sa.table("clearance_scores", sa.column("treatment_id"), sa.column("score"))
_tallies = sa.table(
    "outcome_tallies",
    sa.column("clinic_id"),
    sa.column("protocol_version_id"),
    sa.column("sclerosant"),
    sa.column("key"),
    sa.column("count"),
)


def _tally(row):
    """One done session's share of the totals; the rule of
    app/domain/outcomes.py:session_tally at this revision."""
    out = {"sessions": 1}
    out |= {k: 1 for k in _FLAGS if getattr(row, k)}
    out |= {k: getattr(row, k) for k in _STOCKINGS if getattr(row, k)}
    if row.improvement is not None:
        out[f"improvement:{row.improvement}"] = 1
        out[f"satisfaction:{row.satisfaction}"] = 1
        out |= {f"effect:{e}": 1 for e in (row.side_effects or "").split()}
    if row.score is not None:
        out[f"clearance:{row.score}"] = 1
    return out


def _backfill(connection):
    """Every clinic's totals from its done sessions, grouped in SQL by what they add."""
    t, f, r, s = _treatments.c, _facts.c, _ratings.c, _scores.c
    columns = [
        _patients.c.clinic_id,
        t.protocol_version_id,
        t.sclerosant,
        *(getattr(f, k) for k in (*_FLAGS, *_STOCKINGS)),
        r.improvement,
        r.satisfaction,
        r.side_effects,
        s.score,
    ]
    query = (
        sa.select(*columns, sa.func.count().label("n"))
        .select_from(_treatments)
        .join(_patients, _patients.c.id == t.patient_id)
        .outerjoin(_facts, f.treatment_id == t.id)
        .outerjoin(_ratings, r.treatment_id == t.id)
        .outerjoin(_scores, s.treatment_id == t.id)
        .where(t.status == "done")
        .group_by(*columns)
    )
    totals = Counter()
    for row in connection.execute(query):
        group = (row.clinic_id, row.protocol_version_id, row.sclerosant or "")
        for key, n in _tally(row).items():
            totals[(*group, key)] += n * row.n
    rows = [
        {"clinic_id": c, "protocol_version_id": v, "sclerosant": sc, "key": k, "count": n}
        for (c, v, sc, k), n in sorted(totals.items())
    ]
    for i in range(0, len(rows), 5_000):
        connection.execute(sa.insert(_tallies), rows[i : i + 5_000])


def downgrade():
    with op.batch_alter_table("session_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("improvement", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("side_effects", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("score", sa.Integer(), nullable=True))
    _copy_back(op.get_bind())
    op.drop_table("outcome_tallies")


def _copy_back(connection):
    """The previous revision's copies: a row for every rated or scored session (the
    page then added up these rows), each with its rating and score."""
    facts = sa.table(
        "session_facts",
        sa.column("treatment_id"),
        *(sa.column(k) for k in (*_FLAGS, *_STOCKINGS, *_COPIES)),
    )
    have = set(connection.scalars(sa.select(facts.c.treatment_id)))
    rated = set(connection.scalars(sa.select(_ratings.c.treatment_id)))
    scored = set(connection.scalars(sa.select(_scores.c.treatment_id)))
    empty = dict.fromkeys(_FLAGS, False) | dict.fromkeys(_STOCKINGS, 0)
    missing = [{"treatment_id": tid, **empty} for tid in sorted((rated | scored) - have)]
    if missing:
        connection.execute(sa.insert(facts), missing)
    for column in ("improvement", "satisfaction", "side_effects"):
        source = sa.select(getattr(_ratings.c, column)).where(
            _ratings.c.treatment_id == facts.c.treatment_id
        )
        connection.execute(sa.update(facts).values({column: source.scalar_subquery()}))
    score = sa.select(_scores.c.score).where(_scores.c.treatment_id == facts.c.treatment_id)
    connection.execute(sa.update(facts).values(score=score.scalar_subquery()))
