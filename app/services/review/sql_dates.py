"""Dates in SQL for the clinician's record of one patient: ``start + days`` in either
database, and the calendar date a daily-task tick falls on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from app.models import CheckIn
from app.models import TaskTick


class _PlusDays(sa.sql.functions.FunctionElement[date]):
    """``start + days`` for a date and a whole number of days, in either database."""

    type = sa.Date()
    name = "plus_days"
    inherit_cache = True


@compiles(_PlusDays)
def _plus_days(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    # PostgreSQL: date + integer is a date.
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({start} + {days})"


@compiles(_PlusDays, "sqlite")
def _plus_days_sqlite(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    # SQLite keeps dates as ISO text, which date() returns too (so UNION and IN compare
    # like with like); the modifier reads "3 days" or "-3 days".
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({start}, {days} || ' days')"


def tick_date_column(starts: dict[int, date]) -> sa.ColumnElement[date]:
    """SQL for the patient's date of a task tick: the date of the check-in of the same
    session and day if there is one (a check-in keeps the date it was sent on, even if
    the treatment time is corrected later), else the session's day 0 plus its day."""
    if not starts:  # no session, so no ticks: a date (typed, for the UNION) that is NULL
        return _PlusDays(sa.cast(sa.null(), sa.Date), TaskTick.day)
    start = sa.case(
        {tid: sa.literal(on, sa.Date) for tid, on in starts.items()}, value=TaskTick.treatment_id
    )
    # One index lookup per tick (uq_checkins_treatment_day); a patient has a few hundred.
    checked_in = (
        sa.select(CheckIn.on_date)
        .where(CheckIn.treatment_id == TaskTick.treatment_id, CheckIn.day == TaskTick.day)
        .scalar_subquery()
    )
    return sa.func.coalesce(checked_in, _PlusDays(start, TaskTick.day), type_=sa.Date)
