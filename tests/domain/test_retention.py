"""The retention rules (issue 20 point 4): the end of a record's retention, when it is
due for erasure, and which photo policy deletes photos at closure."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from app.domain import retention

CLOSED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_end_is_whole_calendar_years_later_at_the_same_time():
    assert retention.retention_end(CLOSED, 8) == datetime(2034, 11, 20, 12, 0, tzinfo=UTC)
    assert retention.retention_end(CLOSED, 0) == CLOSED


def test_a_closure_on_29_february_ends_on_28_february_of_a_common_year():
    leap = datetime(2028, 2, 29, 9, 30, tzinfo=UTC)
    assert retention.retention_end(leap, 1) == datetime(2029, 2, 28, 9, 30, tzinfo=UTC)
    assert retention.retention_end(leap, 4) == datetime(2032, 2, 29, 9, 30, tzinfo=UTC)


def test_negative_years_are_refused():
    with pytest.raises(ValueError, match="negative"):
        retention.retention_end(CLOSED, -1)


def test_erasure_is_due_from_the_end_inclusive_and_never_before_completion():
    end = retention.retention_end(CLOSED, 8)
    assert retention.erasure_due(None, end) is False
    assert retention.erasure_due(end, end.replace(second=0, minute=59, hour=11)) is False
    assert retention.erasure_due(end, end) is True
    assert retention.erasure_due(end, end.replace(year=2040)) is True


def test_only_delete_deletes_photos_an_unknown_policy_keeps_them():
    assert retention.photos_go_at_closure(retention.DELETE) is True
    assert retention.photos_go_at_closure(retention.KEEP) is False
    assert retention.photos_go_at_closure("") is False
    assert retention.photos_go_at_closure("Delete") is False
