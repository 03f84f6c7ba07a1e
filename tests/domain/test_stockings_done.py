"""A new protocol file whose milestone says the stockings are done while a stocking
task still runs is refused, naming the milestone (adversarial review, 2026-12-07: "You
no longer need to wear your stockings" at 24 h loaded beside "wear your stockings day
and night" until 72 h, and Today showed both on day 1). A milestone that ends only part
of the wear ("at night") is not read as done, and the shipped files all load.
"""

from __future__ import annotations

import pytest

from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from tests.domain.test_today_consistency import PROTOCOL_DIR

SHIPPED = sorted(PROTOCOL_DIR.glob("*.toml"))
P72 = (PROTOCOL_DIR / "compression-72h.toml").read_text(encoding="utf-8")
DONE_AT_11 = 'key = "stockings-done"\ntitle = "You no longer need to wear your stockings"'


def _with_done_at(at: str, title: str = "You no longer need to wear your stockings") -> str:
    assert DONE_AT_11 in P72
    text = P72.replace(DONE_AT_11, f'key = "stockings-done"\ntitle = "{title}"')
    return text.replace('at = "day 11"', f'at = "{at}"', 1)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_protocol_still_loads(path):
    parse_protocol(path.read_text(encoding="utf-8"), path.stem)


@pytest.mark.parametrize("at", ["24h", "72h", "day 10"])
def test_stockings_done_while_a_stocking_task_runs_is_refused(at):
    text = _with_done_at(at)
    assert text.count(f'at = "{at}"') >= 1
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(text, "own")
    problems = [(p.item, p.field) for p in caught.value.problems]
    assert ("milestone 'stockings-done'", "at") in problems
    message = str(caught.value)
    assert "says the stockings are done while stocking task" in message


def test_stockings_done_when_the_wear_has_ended_loads():
    parse_protocol(_with_done_at("day 11"), "own")  # the shipped day
    parse_protocol(_with_done_at("day 12"), "own")


def test_a_milestone_ending_only_the_night_wear_is_not_done():
    parse_protocol(_with_done_at("72h", "You can stop wearing your stockings at night"), "own")


def test_an_hour_offset_against_a_day_offset_is_tried_at_every_hour():
    """A task ending at "60h" and a milestone at "day 3": for a treatment at 10:00 the
    task ends on day 2, but for one at 14:00 it ends on day 3 at 02:00, after the
    milestone has said the stockings are done. Refused, whatever the hour."""
    text = P72.replace('end = "72h"\n', 'end = "60h"\n', 1)
    text = text.replace('start = "72h"\n', 'start = "60h"\n', 1)
    assert 'end = "60h"' in text and 'start = "60h"' in text
    # The daytime task starts at 60 h now; end it before the milestone, on day 2.
    text = text.replace('end = "day 10"\n', 'end = "day 2"\n', 1)
    parse_protocol(_done_in(text, "day 4"), "own")  # after both tasks: loads
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(_done_in(text, "day 3"), "own")
    assert ("milestone 'stockings-done'", "at") in [
        (p.item, p.field) for p in caught.value.problems
    ]


def _done_in(text: str, at: str) -> str:
    return text.replace('at = "day 11"', f'at = "{at}"', 1)
