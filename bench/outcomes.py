"""Benchmark: the clinic's outcomes page (issue 19 point 6) against the clinician's
dashboard, for a clinic of 10,000 patients, in the same run.

What it measures
    One scratch database (SQLite file by default, scratch PostgreSQL with ``--postgres``)
    loaded by bench/clinician_dashboard.py's loader: a small clinic (100 patients) next
    to a large one (``--patients-large``, 10,000, with ``--checkins-large`` check-ins,
    1,000,000), the same realistic spread as the dashboard benchmark. On top, outcome
    rows: about 60 % of the done sessions six weeks old or more have the patient's
    rating (improvement, satisfaction, side effects), and about 40 % a clearance score.
    The loader bypasses the services, so each session's ``SessionFacts`` row and the
    clinics' running totals (``OutcomeTally``) are then recounted from those rows
    (``facts.backfill``), as the services keep them. Then ANALYZE.

    Signed in as a clinician of each clinic (Flask test client, clock pinned), it renders
    ``GET /clinic/`` (the dashboard) and ``GET /clinic/outcomes`` for both clinics, in
    interleaved rounds whose order turns round by round, timing each render with
    ``time.perf_counter`` and counting its SQL statements.

Aim (from the issue)
    The large clinic's outcomes page answers within 3 x the large clinic's dashboard
    (medians of the same run), and its statement count is constant: the same for the
    small and the large clinic and in every round (everything is aggregated in SQL).
    Both ratios are printed, with outcomes(large) / outcomes(small) for information.

Measured (2026-12-07, the 2-core machine shared with other work, load average 6 to 9;
default sizes: 29,775 sessions in the large clinic, 17,240 ratings, 11,624 scores;
7 rounds), with the page reading the clinic's running totals
(app/services/outcomes/tallies.py):
    SQLite: ratio 0.26 and 0.32 (dashboard 28.5 / 40.4 ms, outcomes 7.4 / 12.9 ms; a
    first run beside a test run gave 0.20); 7 statements for both clinics (constant).
    PASS.
    PostgreSQL: ratio 0.39 and 0.34 (dashboard 76.0 / 86.6 ms, outcomes 29.5 /
    29.0 ms); 7 statements for both clinics (constant). PASS.
    Earlier shapes for the record: every check-in's JSON read per view, 33x at 2,000
    patients; facts plus separate rating and score rows, 14x at 10,000; one grouped
    statement joining every done session to its ``session_facts`` row (ratings and
    scores copied into it), 2.30x on PostgreSQL but 5.3 to 6.4x on SQLite, where that
    join alone cost about twice the whole dashboard.

Usage
    .venv/bin/python bench/outcomes.py [--patients-large 10000] [--checkins-large 1000000]
        [--rounds 7] [--quick] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Exit status: 0 PASS, 1 BELOW AIM, 2 could not measure.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import ClearanceScore  # noqa: E402
from app.models import OutcomeRating  # noqa: E402
from app.models import Treatment  # noqa: E402
from app.models import TreatmentStatus  # noqa: E402
from app.services.outcomes import facts  # noqa: E402
from bench import clinician_dashboard as dash  # noqa: E402

AIM_RATIO = 3.0
RATED, SCORED = 0.6, 0.4


def add_outcomes(url: str) -> tuple[int, int]:
    """Ratings and clearance scores for the done sessions six weeks old or more."""
    rng = random.Random(7)
    app = dash.make_app(url)
    with app.app_context():
        with db.engine.begin() as conn:
            rows = conn.execute(
                sa.select(Treatment.id, Treatment.patient_id).where(
                    Treatment.status == TreatmentStatus.DONE,
                    Treatment.treated_at <= dash.NOW - 42 * dash.DAY,
                )
            ).all()
            ratings, scores = [], []
            for tid, pid in rows:
                if rng.random() < RATED:
                    effects = rng.choice(("", "", "", "matting", "pigmentation"))
                    ratings.append(
                        dict(
                            treatment_id=tid,
                            patient_id=pid,
                            improvement=rng.choice(range(0, 101, 10)),
                            satisfaction=rng.randint(1, 5),
                            side_effects=effects,
                            history=[],
                            created_at=dash.NOW - 10 * dash.DAY,
                            updated_at=dash.NOW - 10 * dash.DAY,
                        )
                    )
                if rng.random() < SCORED:
                    scores.append(
                        dict(
                            treatment_id=tid,
                            site="left-calf-inner",
                            score=rng.randint(0, 4),
                            scored_at=dash.NOW - 5 * dash.DAY,
                        )
                    )
            dash.insert_chunked(conn, OutcomeRating.__table__, iter(ratings))
            dash.insert_chunked(conn, ClearanceScore.__table__, iter(scores))
            # The loader bypasses the check-in service, which keeps each session's row.
            dash.say(f"  session facts for {facts.backfill(conn):,} sessions")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            pg = conn.dialect.name == "postgresql"
            conn.exec_driver_sql("VACUUM ANALYZE" if pg else "ANALYZE")
        db.engine.dispose()
    return len(ratings), len(scores)


def measure(url: str, clinics: list, rounds: int) -> dict[tuple[str, str], dash.Page]:
    """Dashboard and outcomes page of each clinic, rendered ``rounds`` times, interleaved."""
    app = dash.make_app(url)
    with app.app_context():
        engine = db.engine
    pages: dict[tuple[str, str], dash.Page] = {}
    for c in clinics:
        client = dash.sign_in(app, f"doc@{c.slug}.bench.example")
        pages[(c.slug, "dashboard")] = dash.Page(
            "dashboard", c.slug, url, "/clinic/", f"<h1>{c.name}</h1>", client
        )
        pages[(c.slug, "outcomes")] = dash.Page(
            "outcomes", c.slug, url, "/clinic/outcomes", f"Outcomes: {c.name}", client
        )
        for name in ("dashboard", "outcomes"):
            pages[(c.slug, name)].clinic = c.slug  # named in render's error message
    recorder = dash.Recorder(engine)
    order = list(pages.values())
    try:
        for page in order:  # warm-up: templates, caches, parsed protocols
            dash.render(page, recorder)
        dash.say(f"{rounds} interleaved rounds")
        for r in range(rounds):
            turn = r % len(order)
            for page in order[turn:] + order[:turn]:
                ms, count, _ = dash.render(page, recorder)
                page.ms.append(ms)
                page.statements.append(count)
    finally:
        recorder.close()
        engine.dispose()
    return pages


def report(pages: dict[tuple[str, str], dash.Page], backend: str, rounds: int) -> int:
    print()
    print(f"{backend}, {rounds} interleaved rounds, median ms per render (statements)")
    for (slug, name), page in pages.items():
        spread = f"{min(page.ms):.1f}-{max(page.ms):.1f}"
        counts = sorted(set(page.statements))
        print(f"  {slug:6} {name:10} {page.median:8.1f} ms  [{spread}]  statements {counts}")
    dashboard, outcomes = pages[("large", "dashboard")], pages[("large", "outcomes")]
    ratio = outcomes.median / dashboard.median
    growth = outcomes.median / pages[("small", "outcomes")].median
    small_counts = set(pages[("small", "outcomes")].statements)
    large_counts = set(outcomes.statements)
    constant = len(small_counts | large_counts) == 1
    print()
    print(f"  outcomes(large) / dashboard(large) = {ratio:.2f}  (aim <= {AIM_RATIO})")
    print(f"  outcomes(large) / outcomes(small)  = {growth:.2f}  (for information)")
    print(
        f"  outcomes statements: small {sorted(small_counts)}, large {sorted(large_counts)}"
        f" -> {'constant' if constant else 'NOT constant'}"
    )
    ok = ratio <= AIM_RATIO and constant
    print("PASS" if ok else "BELOW AIM")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients-small", type=int, default=100)
    parser.add_argument("--patients-large", type=int, default=10_000)
    parser.add_argument("--checkins-large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="2,000 patients, 200,000 check-ins in the large clinic"
    )
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server for scratch databases")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients_large, args.checkins_large = 2_000, 200_000
    per_patient = args.checkins_large / args.patients_large
    small = dash.Spec("small", args.patients_small, round(per_patient * args.patients_small), 1)
    large = dash.Spec("large", args.patients_large, args.checkins_large, 2)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    dash.say(f"outcomes: {backend}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    try:
        with dash.scratch_databases(args.postgres, ("outcomes",)) as (url,):
            started = time.perf_counter()
            clinics = dash.load(url, [small, large])
            rated, scored = add_outcomes(url)
            dash.say(
                f"loaded in {time.perf_counter() - started:.0f} s ({dash.database_size(url)}); "
                f"{rated:,} ratings, {scored:,} clearance scores"
            )
            pages = measure(url, clinics, args.rounds)
            return report(pages, backend, args.rounds)
    except (dash.BenchError, sa.exc.SQLAlchemyError, OSError, statistics.StatisticsError) as exc:
        print(f"COULD NOT MEASURE: {exc}", flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
