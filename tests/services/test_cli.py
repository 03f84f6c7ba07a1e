"""`flask protocols validate|load|list` and `flask dev seed-demo`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Treatment
from tests.conftest import PROTOCOL_DIR
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import text_of

SHIPPED = f"{PROTOCOL_DIR}/compression-72h.toml"
SHIPPED_TEXT = Path(SHIPPED).read_text(encoding="utf-8")


def test_validate_accepts_every_shipped_protocol(runner):
    from app.services.protocols import shipped_files

    files = shipped_files(PROTOCOL_DIR)
    assert len(files) >= 3
    result = runner.invoke(args=["protocols", "validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == len(files)


def test_validate_names_file_line_item_and_field(runner, tmp_path):
    bad = tmp_path / "clinic.toml"
    bad.write_text(SHIPPED_TEXT.replace('end = "day 10"', 'end = "ten days"'), encoding="utf-8")
    result = runner.invoke(args=["protocols", "validate", str(bad)])
    assert result.exit_code == 1
    lines = SHIPPED_TEXT.splitlines()
    header = lines.index(
        'key = "stockings-daytime"'
    )  # 0-based index of the key = 1-based header line
    assert lines[header - 1] == "[[task]]"
    expected = (
        f"error: clinic.toml:{header}: task 'stockings-daytime': "
        "field 'end': 'ten days' is not an offset"
    )
    assert expected in result.output


def test_validate_refuses_broken_files_without_a_traceback(runner, tmp_path):
    cases = {
        "syntax.toml": b"[protocol\nkey = 'x'",
        "binary.toml": b"\xff\xfe\x00garbage",
        "empty.toml": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        result = runner.invoke(args=["protocols", "validate", str(tmp_path / name)])
        assert result.exit_code == 1, name
        assert f"error: {name}" in result.output, result.output
        assert "Traceback" not in result.output
    result = runner.invoke(args=["protocols", "validate", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1 and "cannot be read" in result.output


def test_load_versions_and_patients_keep_their_version(app, runner, in_app, tmp_path, client):
    clinic = in_app(lambda: make_clinic("east").id)
    result = runner.invoke(args=["protocols", "load", SHIPPED, "--clinic", "east"])
    assert "east: compression-72h v1 (unchanged)" in result.output
    in_app(lambda: make_patient(db.session.get(Clinic, clinic), "p@x.example"))
    edited = tmp_path / "compression-72h.toml"
    edited.write_text(
        SHIPPED_TEXT.replace("Wear your stockings in the daytime", "Daytime stockings (edited)"),
        encoding="utf-8",
    )
    result = runner.invoke(args=["protocols", "load", str(edited), "--clinic", "east"])
    assert result.exit_code == 0 and "east: compression-72h v2 (new version)" in result.output
    listing = runner.invoke(args=["protocols", "list"]).output
    assert "east\tcompression-72h\tv1" in listing and "east\tcompression-72h\tv2" in listing
    pinned = in_app(lambda: db.session.scalar(sa.select(ProtocolVersion.version).join(Treatment)))
    assert pinned == 1
    login(client, "p@x.example")
    page = text_of(client.get("/patient/today"))
    assert "Wear your stockings in the daytime" in page and "(edited)" not in page


def test_load_refuses_a_bad_file_and_stores_nothing(app, runner, in_app, tmp_path):
    in_app(lambda: make_clinic("west"))
    before = in_app(
        lambda: db.session.scalar(sa.select(sa.func.count()).select_from(ProtocolVersion))
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[protocol]\nkey = "x"\n', encoding="utf-8")
    result = runner.invoke(args=["protocols", "load", str(bad)])
    assert result.exit_code == 1 and "error: bad.toml" in result.output
    result = runner.invoke(args=["protocols", "load", SHIPPED, "--clinic", "nope"])
    assert result.exit_code == 1 and "no clinic 'nope'" in result.output
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(ProtocolVersion)))
        == before
    )


def test_seed_demo_prints_logins_that_work(app, runner, client):
    result = runner.invoke(args=["dev", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert "clinician@demo.sclerocare.example" in result.output
    for email, heading in [
        ("tomorrow@demo.sclerocare.example", "Your treatment is tomorrow 10:00"),
        ("day3@demo.sclerocare.example", "Day 3 after your treatment"),
        ("day20@demo.sclerocare.example", "Day 20 after your treatment"),
    ]:
        c = app.test_client()
        assert login(c, email, "demo patient 2026").status_code == 302
        assert heading in text_of(c.get("/patient/today"))
    # Running it again refreshes rather than duplicates.
    assert runner.invoke(args=["dev", "seed-demo"]).exit_code == 0


def test_a_file_nested_too_deeply_is_one_line_not_a_traceback(runner, tmp_path):
    # 20 kB, well under the size limit, but deeper than Python's recursion limit: tomllib
    # raised RecursionError, which the command printed as a 1000-frame traceback.
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    for command in ("validate", "load"):
        result = runner.invoke(args=["protocols", command, str(deep)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert "error: deep.toml: file: field 'syntax': not valid TOML: nested too deeply" in (
            result.output
        )


def test_a_file_saved_with_a_byte_order_mark_loads_without_it(app, runner, in_app, tmp_path):
    # Windows Notepad wrote a BOM before UTF-8 text until 2019; TOML does not allow one.
    in_app(lambda: make_clinic("bom"))  # has the shipped files as version 1
    saved = tmp_path / "compression-72h.toml"
    saved.write_bytes(b"\xef\xbb\xbf" + SHIPPED_TEXT.encode("utf-8"))
    result = runner.invoke(args=["protocols", "validate", str(saved)])
    assert result.exit_code == 0 and "ok: " in result.output, result.output
    # The shipped file saved with the mark is the same version, not a new one.
    result = runner.invoke(args=["protocols", "load", str(saved), "--clinic", "bom"])
    assert "bom: compression-72h v1 (unchanged)" in result.output, result.output
    edited = SHIPPED_TEXT.replace("Wear your stockings in the daytime", "Daytime stockings")
    saved.write_bytes(b"\xef\xbb\xbf" + edited.encode("utf-8"))
    result = runner.invoke(args=["protocols", "load", str(saved), "--clinic", "bom"])
    assert "bom: compression-72h v2 (new version)" in result.output, result.output
    stored = in_app(
        lambda: db.session.scalar(
            sa.select(ProtocolVersion.source_text).where(
                ProtocolVersion.key == "compression-72h", ProtocolVersion.version == 2
            )
        )
    )
    assert stored == edited
