"""`flask protocols validate|load` and the rules added for issue 14 points 7 and 8.

* validate lists each value a clinic page leaves open ("clinic must set") with its
  file and line, and succeeds; load refuses the file until the values are set, then
  loads it.
* validate and load refuse a protocol without a required warning sign, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ProtocolVersion
from tests.conftest import PROTOCOL_DIR
from tests.conftest import make_clinic

PAGES = Path(PROTOCOL_DIR) / "needs-clinic-values"


def _versions() -> list[str]:
    return list(db.session.scalars(sa.select(ProtocolVersion.key).order_by(ProtocolVersion.id)))


def test_validate_lists_the_values_a_clinic_page_leaves_open_and_succeeds(runner):
    result = runner.invoke(
        args=[
            "protocols",
            "validate",
            str(PAGES / "clinic-page-1.toml"),
            str(PAGES / "clinic-page-2.toml"),
        ]
    )
    assert result.exit_code == 0, result.output
    text = (PAGES / "clinic-page-2.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.startswith("sessions_min = "))
    assert (
        f"todo: clinic-page-2.toml:{line}: [course]: field 'sessions_min': needs the clinic's "
        "value: replace 'clinic must set' with your own (a whole number from 1 to 52)"
    ) in result.output
    assert result.output.count("todo: clinic-page-1.toml:") == 4
    assert result.output.count("todo: clinic-page-2.toml:") == 7
    assert "refuses it until the 4 values above are set" in result.output
    assert "error" not in result.output


def test_load_refuses_an_open_value_until_the_clinic_sets_it(runner, in_app, tmp_path):
    in_app(lambda: make_clinic("page1"))
    before = in_app(_versions)
    result = runner.invoke(
        args=["protocols", "load", str(PAGES / "clinic-page-1.toml"), "--clinic", "page1"]
    )
    assert result.exit_code == 1
    assert result.output.count("needs the clinic's value") == 4
    assert "error: clinic-page-1.toml:" in result.output
    assert in_app(_versions) == before

    text = (PAGES / "clinic-page-1.toml").read_text(encoding="utf-8")
    text = text.replace('compression = "clinic must set"', 'compression = "Daytime for a week"')
    text = re.sub(r'^end = "clinic must set"', 'end = "day 7"', text, flags=re.M)
    text = text.replace('at = "clinic must set"', 'at = "day 8"')
    mine = tmp_path / "clinic-page-1.toml"
    mine.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["protocols", "validate", str(mine)])
    assert result.exit_code == 0 and "todo" not in result.output
    result = runner.invoke(args=["protocols", "load", str(mine), "--clinic", "page1"])
    assert result.exit_code == 0, result.output
    assert "page1: clinic-page-1 v1 (new version)" in result.output
    assert in_app(_versions) == [*before, "clinic-page-1"]


def test_validate_and_load_refuse_a_protocol_without_the_stroke_question(runner, in_app, tmp_path):
    in_app(lambda: make_clinic("nostroke"))
    before = in_app(_versions)
    text = (Path(PROTOCOL_DIR) / "compression-24h.toml").read_text(encoding="utf-8")
    bad = tmp_path / "no-stroke.toml"
    bad.write_text(text.replace('kind = "stroke"\n', ""), encoding="utf-8")
    for command in ("validate", "load"):
        result = runner.invoke(args=["protocols", command, str(bad)])
        assert result.exit_code == 1, command
        assert re.search(
            r"error: no-stroke\.toml:\d+: \[\[red_flag\]\]: field 'kind': "
            r'no red flag has kind = "stroke": every protocol must ask about stroke',
            result.output,
        ), result.output
    assert in_app(_versions) == before


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('kind = "calf"\n', 'kind = ["calf"]\n', r"red_flag '[^']+': field 'kind': must be one of"),
        ('key = "walks"\n', 'key = ["walks"]\n', r"task #\d+: field 'key': must be non-empty text"),
        ('key = "walks"\n', "key = {a = 1}\n", r"task #\d+: field 'key': must be non-empty text"),
    ],
)
def test_validate_names_a_key_or_kind_written_as_a_list_instead_of_crashing(
    runner, tmp_path, old, new, named
):
    """A clinic's typo (``kind = ["calf"]``) must get the usual message, not a traceback."""
    text = (Path(PROTOCOL_DIR) / "compression-24h.toml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "list-kind.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = runner.invoke(args=["protocols", "validate", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert re.search(rf"error: list-kind\.toml:\d+: {named}", result.output), result.output
