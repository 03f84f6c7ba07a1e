"""Loading a clinic's own protocol refuses stocking tasks the app could not recognise
(issue 19, HAZ-05 C6).

A file whose task words speak of compression stockings, neither marked
``stockings = true`` / ``false`` nor asked about by a stockings question, is refused by
``flask protocols validate`` and ``load`` (the service ``protocols.load``), naming the
task and its line; nothing is stored. The same file with its stocking tasks marked
loads. A malformed marker gets a message, not a traceback.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.domain.protocol import ProtocolError
from app.extensions import db
from app.models import ProtocolVersion
from app.services import protocols
from tests.conftest import NOW
from tests.conftest import make_clinic
from tests.domain.test_stocking_marks import clinic_own_text


def _versions() -> list[str]:
    return list(db.session.scalars(sa.select(ProtocolVersion.key).order_by(ProtocolVersion.id)))


def test_the_service_refuses_unmarked_stocking_tasks_and_stores_nothing(in_app, tmp_path):
    in_app(lambda: make_clinic("own"))
    before = in_app(_versions)
    bad = tmp_path / "own.toml"
    bad.write_text(clinic_own_text(marked=False), encoding="utf-8")

    def load():
        with pytest.raises(ProtocolError) as caught:
            protocols.load(str(bad), "own", NOW)
        return [(p.item, p.field) for p in caught.value.problems]

    assert in_app(load) == [
        ("task 'stockings-day-night'", "stockings"),
        ("task 'stockings-daytime'", "stockings"),
    ]
    assert in_app(_versions) == before
    good = tmp_path / "own-marked.toml"
    good.write_text(clinic_own_text(), encoding="utf-8")
    results = in_app(lambda: protocols.load(str(good), "own", NOW))
    assert [(r.key, r.created) for r in results] == [("clinic-own-72h", True)]
    assert in_app(_versions) == [*before, "clinic-own-72h"]


def test_validate_and_load_name_the_task_and_its_line(runner, in_app, tmp_path):
    in_app(lambda: make_clinic("own2"))
    before = in_app(_versions)
    text = clinic_own_text(marked=False)
    bad = tmp_path / "own.toml"
    bad.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    key_at = lines.index('key = "stockings-day-night"')
    header = max(i for i in range(key_at) if lines[i] == "[[task]]") + 1
    for args in (["validate", str(bad)], ["load", str(bad), "--clinic", "own2"]):
        result = runner.invoke(args=["protocols", *args])
        assert result.exit_code == 1, result.output
        assert (
            f"error: own.toml:{header}: task 'stockings-day-night': field 'stockings': its "
            "words speak of compression stockings but it is not marked and no stockings "
            "question is asked during it; add 'stockings = true'"
        ) in result.output, result.output
        assert "task 'stockings-daytime': field 'stockings'" in result.output
    assert in_app(_versions) == before


@pytest.mark.parametrize("value", ['"yes"', "{ on = true }"])
def test_a_malformed_marker_is_named_not_a_traceback(runner, tmp_path, value):
    text = clinic_own_text().replace("stockings = true\n", f"stockings = {value}\n", 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["protocols", "validate", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert re.search(
        r"error: bad\.toml:\d+: task 'stockings-day-night': field 'stockings': "
        r"must be true or false",
        result.output,
    ), result.output
