"""A course has an end (issue 14 point 9): after follow-up, no check-in prompts.

Today's end of follow-up and the reminder plan's last daily prompt are one bound
(``FOLLOW_UP_DAYS``); this checks that no shipped protocol plans a daily "check in"
prompt after it.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain import reminders
from app.domain.offsets import day_number
from app.domain.protocol import parse_protocol
from app.domain.recovery import FOLLOW_UP_DAYS
from app.domain.recovery import build_today
from app.domain.reminders import QuietHours
from app.domain.reminders import plan_treatment
from app.services.care.followup import FOLLOW_DAYS

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "app" / "protocols"
PATHS = sorted(PROTOCOL_DIR.glob("*.toml"))


def test_one_bound_for_today_reminders_and_the_clinic() -> None:
    assert FOLLOW_UP_DAYS == reminders.CHECKIN_DAYS == FOLLOW_DAYS == 28


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_no_daily_prompt_after_follow_up_ends(path: Path, zone: str) -> None:
    protocol = parse_protocol(path.read_text(encoding="utf-8"), path.name)
    tz = ZoneInfo(zone)
    treated = datetime(2026, 10, 20, 14, 30, tzinfo=UTC)
    planned = plan_treatment(
        protocol, appointment=treated, treated_at=treated, tz=tz, quiet=QuietHours()
    )
    daily = [r for r in planned if r.kind == "daily"]
    assert daily, "a followed-up session gets daily prompts"
    last = max(day_number(treated, r.due, tz) for r in daily)
    assert last == FOLLOW_UP_DAYS
    # ... and on the day after, Today invites no check-in for this session.
    after = treated + timedelta(days=FOLLOW_UP_DAYS + 1)
    assert build_today(protocol, treated, tz, after, frozenset()).follow_up_over
