"""The read-access rule after discharge (app/domain/discharge.py)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.discharge import Access
from app.domain.discharge import access
from app.domain.discharge import read_until

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
READ = timedelta(days=90)


def test_never_discharged_is_active_whatever_the_time():
    assert access(None, AT + timedelta(days=10_000), READ) == Access.ACTIVE


def test_read_only_for_the_period_then_ended_at_its_last_instant():
    assert access(AT, AT, READ) == Access.READ_ONLY
    assert access(AT, AT + READ - timedelta(microseconds=1), READ) == Access.READ_ONLY
    assert access(AT, AT + READ, READ) == Access.ENDED
    assert read_until(AT, READ) == AT + READ


@given(st.integers(min_value=-10, max_value=400), st.integers(min_value=0, max_value=365))
def test_read_only_exactly_before_the_period_ends(days_after: int, period_days: int):
    now, period = AT + timedelta(days=days_after), timedelta(days=period_days)
    expected = Access.READ_ONLY if now < AT + period else Access.ENDED
    assert access(AT, now, period) == expected
