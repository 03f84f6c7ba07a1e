"""Review of issue 17 point 5: the reminder digest against time. A digest held back (a
busy mail server, then quiet hours) must not arrive the next morning as "today's"
reminders beside the new day's own digest; across a clock change and days of dispatcher
downtime nothing stale is sent and at most one digest a local day arrives.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.models import Channel
from app.models import OutboxMessage
from tests.services.test_email_dispatch import _add_rows
from tests.services.test_email_dispatch import _patient
from tests.services.test_email_dispatch import _run

LONDON = ZoneInfo("Europe/London")


def _digests(in_app) -> dict[str, tuple[str, str]]:
    return in_app(
        lambda: {
            r.key: (r.state.value, r.last_error)
            for r in db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)
            )
        }
    )


def test_a_digest_held_past_quiet_hours_is_not_sent_the_next_morning(app, in_app, smtp_server):
    evening = datetime(2026, 11, 23, 20, 50, tzinfo=UTC)  # 20:50 London, quiet from 21:00
    pid = in_app(_patient, ["daily"], due=evening - timedelta(minutes=1))
    smtp_server.busy = True  # 451: try later
    report = _run(in_app, evening)
    assert report.digested == 1 and report.retried == 1
    smtp_server.busy = False
    _run(in_app, evening + timedelta(minutes=15))  # 21:05: quiet hours
    next_morning = datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC)
    in_app(_add_rows, pid, ["daily"], next_morning - timedelta(minutes=1), "next")
    _run(in_app, next_morning)
    _run(in_app, next_morning + timedelta(hours=3))
    # One email on the 24th: its own digest, not also the 23rd's stale one.
    assert len(smtp_server.messages) == 1
    states = _digests(in_app)
    assert states[f"digest:{pid}:2026-11-24"][0] == "sent"
    assert states[f"digest:{pid}:2026-11-23"][0] == "dropped"


def test_across_the_clock_change_and_two_days_down_one_digest_a_local_day(app, in_app, smtp_server):
    # The clocks went back at 02:00 BST on Sunday 25 October 2026.
    start = datetime(2026, 10, 24, 9, 0, tzinfo=UTC)  # Sat 10:00 BST
    pid = in_app(_patient, ["daily"], due=start)
    for day in range(1, 5):
        due = start + timedelta(days=day)
        in_app(_add_rows, pid, ["daily", "checklist"], due, f"d{day}")
    # The dispatcher is down from Saturday morning to Monday 10:00 GMT.
    _run(in_app, datetime(2026, 10, 26, 10, 0, 30, tzinfo=UTC))
    assert len(smtp_server.messages) == 1  # Monday's, not Saturday's and Sunday's too
    _run(in_app, datetime(2026, 10, 26, 15, 0, tzinfo=UTC))
    _run(in_app, datetime(2026, 10, 27, 10, 0, tzinfo=UTC))
    _run(in_app, datetime(2026, 10, 28, 10, 0, tzinfo=UTC))
    days = Counter(
        m["Date"].datetime.astimezone(LONDON).date().isoformat() if m["Date"] else "?"
        for m in smtp_server.messages
    )
    sent = sorted(k for k, v in _digests(in_app).items() if v[0] == "sent")
    assert sent == [f"digest:{pid}:2026-10-{d}" for d in (26, 27, 28)]
    assert len(smtp_server.messages) == 3, days
