"""``flask backup prune ROOT`` (checklist E7) with a pinned clock: this app's backups
older than N days go, the newest K always stay, anything else under ROOT is never
touched, a second run removes nothing, each run is one audit event, and ``flask
retention run`` prunes ``SCLERO_BACKUP_ROOT`` when it is set.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import NOW


def fake_backup(root: Path, name: str, age_days: float, **manifest: object) -> Path:
    """A folder shaped like ``flask backup create``'s output, made ``age_days`` ago."""
    folder = root / name
    folder.mkdir()
    (folder / "database.dump").write_bytes(b"dump")
    made = (NOW - timedelta(days=age_days)).isoformat()
    doc = {"format": 1, "created_at": made, "photos": {}, **manifest}
    (folder / "manifest.json").write_text(json.dumps(doc))
    return folder


def _names(root: Path) -> set[str]:
    return set(os.listdir(root))


def _prune_events(in_app) -> list[str]:
    return in_app(
        lambda: list(
            db.session.scalars(
                sa.select(AuditEvent.detail).where(AuditEvent.action == "backup prune")
            )
        )
    )


def _run(runner, *args: str):
    result = runner.invoke(args=["backup", "prune", *args])
    assert "Traceback" not in result.output
    return result


def test_old_backups_go_and_nothing_else_is_touched(runner, in_app, tmp_path):
    root = tmp_path / "backups"
    root.mkdir()
    for name, age in [("b40", 40), ("b36", 36), ("b10", 10), ("b1", 1)]:
        fake_backup(root, name, age)
    # Things that are not this app's backups, however old they look.
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("keep me")
    (root / "todo.txt").write_text("keep me")
    fake_backup(root, "other-format", 400, format=99)
    fake_backup(root, "naive-time", 400, created_at="2020-01-01T00:00:00")
    no_dump = fake_backup(root, "no-dump", 400)
    (no_dump / "database.dump").unlink()
    outside = fake_backup(tmp_path, "outside", 400)
    (root / "link").symlink_to(outside)

    result = _run(runner, str(root), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0, result.output
    assert "2 backups removed, 2 kept, 6 other entries left alone" in result.output
    assert _names(root) == {
        "b10", "b1", "notes", "todo.txt", "other-format", "naive-time", "no-dump", "link"
    }  # fmt: skip
    assert (outside / "manifest.json").exists()
    assert (root / "notes" / "readme.txt").read_text() == "keep me"

    again = _run(runner, str(root), "--keep-days", "35", "--keep-last", "1")
    assert again.exit_code == 0
    assert "0 backups removed, 2 kept" in again.output
    events = _prune_events(in_app)
    assert len(events) == 2
    assert events[0].startswith("2 backups removed, 2 kept, 6 other entries left alone")


def test_the_newest_are_kept_however_old(runner, tmp_path):
    for name, age in [("b100", 100), ("b90", 90), ("b80", 80)]:
        fake_backup(tmp_path, name, age)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "2")
    assert result.exit_code == 0, result.output
    assert _names(tmp_path) == {"b90", "b80"}


def test_age_is_read_against_the_apps_clock_and_config(app, runner, clock, tmp_path):
    app.config.update(SCLERO_BACKUP_KEEP_DAYS=35, SCLERO_BACKUP_KEEP_LAST=1)
    fake_backup(tmp_path, "new", 0)
    fake_backup(tmp_path, "b34", 34)
    assert _run(runner, str(tmp_path)).exit_code == 0
    assert _names(tmp_path) == {"new", "b34"}
    clock.advance(days=2)  # b34 is now 36 days old
    assert _run(runner, str(tmp_path)).exit_code == 0
    assert _names(tmp_path) == {"new"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--keep-last", "0"], "--keep-last must be at least 1"),
        (["--keep-days", "0"], "--keep-days must be from 1 to 36500"),
        # A huge count overflowed the date arithmetic: a traceback (an adversarial test).
        (["--keep-days", "99999999"], "--keep-days must be from 1 to 36500"),
    ],
)
def test_bad_counts_are_refused_and_nothing_goes(runner, in_app, tmp_path, args, words):
    fake_backup(tmp_path, "b100", 100)
    result = _run(runner, str(tmp_path), *args)
    assert result.exit_code != 0 and words in result.output
    assert _names(tmp_path) == {"b100"}
    assert _prune_events(in_app) == []


def test_a_backup_or_a_missing_folder_as_root_is_refused(runner, tmp_path):
    one = fake_backup(tmp_path, "b100", 100)
    result = _run(runner, str(one), "--keep-days", "1")
    assert result.exit_code != 0 and "is a backup itself" in result.output
    assert (one / "manifest.json").exists()
    missing = _run(runner, str(tmp_path / "nope"))
    assert missing.exit_code != 0 and "is not a folder" in missing.output


def test_an_interrupted_removal_is_finished(runner, tmp_path):
    from app.services.backup_prune import MARKER

    fake_backup(tmp_path, "b1", 1)
    half = tmp_path / ".pruning-b90"
    (half / "photos").mkdir(parents=True)
    (half / "photos" / "x.jpg").write_bytes(b"x")
    (half / MARKER).write_text(json.dumps({"pruning": "b90"}))  # as prune renamed it
    assert _run(runner, str(tmp_path)).exit_code == 0
    assert _names(tmp_path) == {"b1"}


def test_a_pruning_folder_prune_did_not_make_is_left_alone(runner, tmp_path):
    from app.services.backup_prune import MARKER

    fake_backup(tmp_path, "b1", 1)
    # An operator's folder that merely starts with ".pruning-", one with a marker that
    # names another backup, and a link: none was renamed by prune, none may go.
    (tmp_path / ".pruning-mine").mkdir()
    (tmp_path / ".pruning-mine" / "keep.txt").write_text("keep me")
    (tmp_path / ".pruning-b7").mkdir()
    (tmp_path / ".pruning-b7" / MARKER).write_text(json.dumps({"pruning": "other"}))
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / MARKER).write_text(json.dumps({"pruning": "b8"}))
    (tmp_path / ".pruning-b8").symlink_to(outside)
    result = _run(runner, str(tmp_path))
    assert result.exit_code == 0, result.output
    assert _names(tmp_path) == {"b1", ".pruning-mine", ".pruning-b7", ".pruning-b8"}
    assert (tmp_path / ".pruning-mine" / "keep.txt").read_text() == "keep me"
    assert os.listdir(outside) == [MARKER]
    assert (
        "not marked by backup prune, left alone (remove by hand if unwanted): "
        ".pruning-b7, .pruning-mine"
    ) in result.output


def test_a_removed_backup_was_marked_before_its_rename(runner, tmp_path, monkeypatch):
    # The rename is the step that hides a backup: the folder it makes must already carry
    # the marker, or an interruption right after it would leave a folder no run finishes.
    from app.services import backup_prune

    fake_backup(tmp_path, "b90", 90)
    fake_backup(tmp_path, "b1", 1)
    real_rename = os.rename
    seen: list[list[str]] = []

    def rename(src, dst):
        seen.append(sorted(os.listdir(src)))
        return real_rename(src, dst)

    monkeypatch.setattr(backup_prune.os, "rename", rename)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0, result.output
    assert seen == [[backup_prune.MARKER, "database.dump", "manifest.json"]]
    assert _names(tmp_path) == {"b1"}


def test_retention_run_prunes_the_configured_root(app, runner, tmp_path):
    fake_backup(tmp_path, "b100", 100)
    fake_backup(tmp_path, "b1", 1)
    result = runner.invoke(args=["retention", "run"])
    assert "backup prune" not in result.output  # no root configured: nothing pruned
    assert _names(tmp_path) == {"b100", "b1"}
    app.config.update(SCLERO_BACKUP_ROOT=str(tmp_path), SCLERO_BACKUP_KEEP_LAST=1)
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "backup prune: 1 backups removed, 1 kept" in result.output
    assert _names(tmp_path) == {"b1"}


def test_a_real_backup_is_recognised_and_ages_out(runner, clock, tmp_path, world):
    made = runner.invoke(args=["backup", "create", str(tmp_path / "real")])
    if made.exit_code != 0 and "pg_dump" in made.output:
        pytest.skip(f"no usable pg_dump here: {made.output}")
    assert made.exit_code == 0, made.output
    fake_backup(tmp_path, "newer", -1)  # made a day after "now", so the newest
    clock.advance(days=36)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0, result.output
    assert _names(tmp_path) == {"newer"}


def test_a_backup_dated_in_the_future_does_not_take_the_newest_ones_place(runner, tmp_path):
    # Made while a clock was wrong: it cannot be aged, and with --keep-last 1 it used to
    # count as "the newest", so every real backup past --keep-days went.
    fake_backup(tmp_path, "skewed", -400)
    fake_backup(tmp_path, "b40", 40)
    fake_backup(tmp_path, "b50", 50)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0, result.output
    assert _names(tmp_path) == {"skewed", "b40"}
    assert "dated in the future, kept (check the clock): skewed" in result.output


def test_a_backup_another_run_took_first_is_no_error(runner, tmp_path, monkeypatch):
    # Two runs at once (retention run and a cron'd backup prune): the other run renames
    # or deletes the folder between this run's listing and its own rename.
    from app.services import backup_prune

    fake_backup(tmp_path, "b90", 90)
    fake_backup(tmp_path, "b80", 80)
    fake_backup(tmp_path, "b1", 1)
    real_rename = os.rename

    def raced(src, dst):
        if src.endswith("b90"):
            real_rename(src, str(tmp_path / ".pruning-b90"))  # the other run's move
            backup_prune.shutil.rmtree(tmp_path / ".pruning-b90")
        return real_rename(src, dst)

    monkeypatch.setattr(backup_prune.os, "rename", raced)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0, result.output
    assert _names(tmp_path) == {"b1"}


def test_a_backup_that_cannot_be_removed_is_named_and_the_rest_go(
    runner, in_app, tmp_path, monkeypatch
):
    from app.services import backup_prune

    fake_backup(tmp_path, "b90", 90)
    fake_backup(tmp_path, "b80", 80)
    fake_backup(tmp_path, "b1", 1)
    real_rename = os.rename

    def refused(src, dst):
        if src.endswith("b90"):
            raise PermissionError(13, "Permission denied")
        return real_rename(src, dst)

    monkeypatch.setattr(backup_prune.os, "rename", refused)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code != 0
    assert "could not be removed: b90" in result.output
    assert _names(tmp_path) == {"b90", "b1"}  # b80 still went
    events = _prune_events(in_app)
    assert len(events) == 1 and events[0].startswith("1 backups removed")


@pytest.mark.parametrize("bad", ["missing", "a-file"])
def test_a_bad_backup_root_does_not_undo_the_retention_runs_erasure(
    app, runner, in_app, world, tmp_path, bad
):
    from app.models import Patient
    from tests.services.test_retention_run import _close

    (tmp_path / "a-file").write_text("not a folder")
    app.config.update(SCLERO_BACKUP_ROOT=str(tmp_path / bad))
    in_app(_close, world.patient_a, NOW)
    result = runner.invoke(args=["retention", "run", "--now", "2034-11-20T12:00:00+00:00"])
    assert "Traceback" not in result.output
    assert "1 records erased" in result.output
    assert result.exit_code != 0 and "is not a folder" in result.output  # cron sees it
    assert in_app(lambda: db.session.get(Patient, world.patient_a)) is None


def test_backups_this_user_cannot_read_are_named_not_silently_skipped(
    runner, tmp_path, monkeypatch
):
    # backup create makes 0700 folders: made by root's cron, pruned as the app's user,
    # they looked like "other entries" and never aged out, with nothing said. (Tests run
    # as root here, so the refusal is the access check's.)
    from app.services import backup_prune

    fake_backup(tmp_path, "b1", 1)
    fake_backup(tmp_path, "roots", 90)
    real_access = os.access

    def access(path, mode):
        return False if str(path).startswith(str(tmp_path / "roots")) else real_access(path, mode)

    real_isfile = os.path.isfile

    def isfile(path):  # what a non-owner sees inside a 0700 folder
        return False if str(path).startswith(str(tmp_path / "roots")) else real_isfile(path)

    monkeypatch.setattr(backup_prune.os, "access", access)
    monkeypatch.setattr(backup_prune.os.path, "isfile", isfile)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    monkeypatch.undo()
    assert "cannot be read (check owner and mode): roots" in result.output
    assert _names(tmp_path) == {"b1", "roots"}


def test_a_backup_still_being_written_is_left_alone(runner, tmp_path):
    # backup create writes the manifest last: until it is whole, the folder is no backup,
    # however old the dump, so a prune running meanwhile never removes it half made.
    writing = fake_backup(tmp_path, "writing", 90)
    whole = (writing / "manifest.json").read_text()
    (writing / "manifest.json").write_text(whole[: len(whole) // 2])
    fake_backup(tmp_path, "b1", 1)
    result = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert result.exit_code == 0 and "1 other entries left alone" in result.output
    assert _names(tmp_path) == {"writing", "b1"}


def test_a_removal_that_stops_midway_is_named_then_finished(runner, tmp_path, monkeypatch):
    from app.services import backup_prune

    fake_backup(tmp_path, "b90", 90)
    fake_backup(tmp_path, "b1", 1)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.fspath(path).endswith("database.dump"):
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(backup_prune.os, "unlink", unlink)
    stuck = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    monkeypatch.undo()
    assert stuck.exit_code != 0 and "could not be removed: b90" in stuck.output
    assert _names(tmp_path) == {".pruning-b90", "b1"}  # never mistaken for a backup
    again = _run(runner, str(tmp_path), "--keep-days", "35", "--keep-last", "1")
    assert again.exit_code == 0, again.output
    assert _names(tmp_path) == {"b1"}


def test_a_killed_creates_folder_is_removed_once_it_is_a_day_old(runner, tmp_path):
    """``backup create`` builds in ``.creating-<name>-<random>`` and renames it into place
    once whole. A kill leaves that folder, with a whole database copy nothing else ages
    out (an adversarial test): prune removes it after a day without writes, and leaves a
    younger one, which may be a backup being made right now."""
    fake_backup(tmp_path, "b1", 1)
    dead = tmp_path / ".creating-2026-12-01-0a1b2c3d"
    dead.mkdir()
    (dead / "database.dump").write_bytes(b"a whole database")
    old = time.time() - 25 * 3600  # file times are real, whatever the app's clock says
    for path in (dead / "database.dump", dead):
        os.utime(path, (old, old))
    live = tmp_path / ".creating-2026-12-07-4e5f6a7b"
    live.mkdir()
    (live / "database.dump").write_bytes(b"being written")
    result = _run(runner, str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "unfinished backups (a killed create) removed: .creating-2026-12-01" in result.output
    assert _names(tmp_path) == {"b1", live.name}


def test_a_now_before_the_calendar_can_count_back_is_no_traceback(runner, tmp_path):
    fake_backup(tmp_path, "b1", 1)
    result = _run(runner, str(tmp_path), "--now", "0001-01-02T00:00:00+00:00")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "dated in the future, kept (check the clock): b1" in result.output
