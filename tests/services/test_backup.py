"""`flask backup create` / `flask backup restore` (issue 15 point 6), and
`flask notifications vapid-keygen` in production before any key exists.

A database made by the migrations, with the test world and two uploaded photos, is
backed up, restored into a new empty database and photo folder, and then `flask photos
verify` and `flask db check` must pass and the restored photos must open. On SQLite
always; on PostgreSQL (pg_dump / pg_restore) with scratch databases when
TEST_DATABASE_URL points at PostgreSQL.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tracemalloc
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Photo
from app.models import User
from app.services import photos
from config import TestingConfig
from tests.conftest import Clock
from tests.conftest import build_world
from tests.conftest import is_postgres
from tests.conftest import login
from tests.services.test_photos import ALICE
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload

ROOT = Path(__file__).resolve().parents[2]


def _app(url: str, photos: Path):
    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        PHOTO_STORAGE_DIR=str(photos),
        SCLERO_NOW=Clock(),
    )


def _ok(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def _refused(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code != 0 and "Error:" in result.output, result.output
    assert "Traceback" not in result.output
    return result.output


def _source(url: str, photos: Path) -> tuple[object, dict[str, int]]:
    """A migrated database with the test world and two photos of Alice's."""
    app = _app(url, photos)
    _ok(app, "db", "upgrade")
    with app.app_context():
        build_world()
    client = app.test_client()
    login(client, ALICE)
    for _ in range(2):
        assert upload(client, phone_jpeg()).status_code == 303
    with app.app_context():
        counts = {
            "users": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
            "photos": db.session.scalar(sa.select(sa.func.count()).select_from(Photo)),
        }
    return app, counts


def _round_trip(source_url: str, target_url: str, tmp_path: Path) -> None:
    src, counts = _source(source_url, tmp_path / "photos-src")
    folder = tmp_path / "backup"
    out = _ok(src, "backup", "create", str(folder))
    assert "4 photo file(s)" in out  # two photos, each full size and thumbnail
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["photos"]) == 4 and manifest["revision"]
    for key in manifest["photos"]:
        mode = stat.S_IMODE(os.stat(folder / "photos" / key).st_mode)
        assert mode == 0o600, oct(mode)
    # A second backup into the same folder is refused: a backup never overwrites one.
    assert "not an empty folder" in _refused(src, "backup", "create", str(folder))
    with src.app_context():
        db.engine.dispose()

    dst = _app(target_url, tmp_path / "photos-dst")
    out = _ok(dst, "backup", "restore", str(folder))
    assert "4 photo file(s)" in out
    assert "all photo files match" in _ok(dst, "photos", "verify")
    _ok(dst, "db", "check")
    with dst.app_context():
        assert counts == {
            "users": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
            "photos": db.session.scalar(sa.select(sa.func.count()).select_from(Photo)),
        }
        pid = db.session.scalar(sa.select(Photo.id).order_by(Photo.id))
    client = dst.test_client()
    login(client, ALICE)
    image = client.get(f"/patient/photos/{pid}/image")
    assert image.status_code == 200 and image.data[:2] == b"\xff\xd8"

    # Restoring again: the database is no longer empty, so it is refused.
    assert "database is not empty" in _refused(dst, "backup", "restore", str(folder))
    with dst.app_context():
        db.engine.dispose()


def test_sqlite_backup_restores_into_an_empty_database_and_folder(tmp_path):
    _round_trip(
        f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'restored.db'}", tmp_path
    )


def test_a_restore_streams_the_photo_files_rather_than_holding_them_all(tmp_path):
    """A clinic's photos (gigabytes) were all read into memory before the first was
    written back; now one file at a time goes through, in chunks."""
    mb = 1024 * 1024
    src, _ = _source(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "photos-src")
    with src.app_context():
        for row in db.session.scalars(sa.select(Photo)):
            big = photos.store().put(os.urandom(4 * mb))  # large full-size files
            row.full_key, row.full_sha256, row.full_size = big.key, big.sha256, big.size
        db.session.commit()
        db.engine.dispose()
    folder = tmp_path / "backup"
    _ok(src, "backup", "create", str(folder))
    dst = _app(f"sqlite:///{tmp_path / 'restored.db'}", tmp_path / "photos-dst")
    tracemalloc.start()
    try:
        out = _ok(dst, "backup", "restore", str(folder))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "4 photo file(s)" in out
    assert peak < 6 * mb, f"{peak / mb:.1f} MB for two 4 MB files"
    assert "all photo files match" in _ok(dst, "photos", "verify")
    with dst.app_context():
        db.engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PostgreSQL")
def test_postgres_backup_restores_and_passes_photos_verify_and_db_check(tmp_path):
    base = sa.engine.make_url(os.environ["TEST_DATABASE_URL"])
    names = [f"sclerocare_bk_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
        _round_trip(urls[0], urls[1], tmp_path)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_damaged_backup_or_a_used_photo_folder_is_refused(tmp_path):
    src, _ = _source(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "photos-src")
    folder = tmp_path / "backup"
    _ok(src, "backup", "create", str(folder))

    # A photo folder with anything in it: refused, and the database is left untouched.
    used = tmp_path / "photos-used"
    (used / "ab").mkdir(parents=True)
    (used / "ab" / "x.jpg").write_bytes(b"someone's photo")
    dst = _app(f"sqlite:///{tmp_path / 'a.db'}", used)
    assert "photo folder" in _refused(dst, "backup", "restore", str(folder))
    with dst.app_context():
        assert sa.inspect(db.engine).get_table_names() == []

    # One flipped byte in a photo file: refused before anything is written.
    key = next(iter(json.loads((folder / "manifest.json").read_text())["photos"]))
    path = folder / "photos" / key
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    dst = _app(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "photos-b")
    assert "does not match its sha256" in _refused(dst, "backup", "restore", str(folder))
    with dst.app_context():
        assert sa.inspect(db.engine).get_table_names() == []

    # Not a backup at all.
    (tmp_path / "empty").mkdir()
    assert "not a ScleroCare backup" in _refused(dst, "backup", "restore", str(tmp_path / "empty"))


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PostgreSQL")
def test_a_pg_dump_of_another_major_version_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    app = _app(os.environ["TEST_DATABASE_URL"], tmp_path / "photos")
    out = _refused(app, "backup", "create", str(tmp_path / "backup"))
    assert "is version 9 but the server is PostgreSQL" in out, out
    with app.app_context():
        db.engine.dispose()


# ------------------------------------------------------------------ vapid-keygen


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "APP_ENV"))}
    env.update(
        APP_ENV="production",
        FLASK_APP="wsgi.py",
        FLASK_SECRET_KEY="s" * 40,
        # Production refuses SQLite (and any database under /tmp); these commands never
        # connect, so a PostgreSQL address is all they need.
        FLASK_SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        FLASK_VAPID_SUBJECT="mailto:ops@clinic.example.org",
        MAIL_DEFAULT_FROM="Clinic <noreply@clinic.example.org>",
        SCLERO_BASE_URL="https://care.clinic.example.org",
        **extra,
    )
    return env


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_vapid_keygen_works_in_production_before_any_key_exists(tmp_path):
    env = _production_env(tmp_path)
    made = _flask(env, "notifications", "vapid-keygen")
    assert made.returncode == 0, made.stderr
    line = made.stdout.splitlines()[0]
    assert line.startswith("FLASK_VAPID_PRIVATE_KEY=")
    key = line.split("=", 1)[1]
    # Sending still refuses without the key, with the message, not a traceback.
    refused = _flask(env, "notifications", "send-due")
    assert refused.returncode != 0 and "Set VAPID_PRIVATE_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr
    # The web app (no command running) still refuses to start without it...
    check = "from app import create_app\ncreate_app()"
    web = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert web.returncode != 0 and "Set VAPID_PRIVATE_KEY" in web.stderr
    # ...and starts with the key just made.
    web = subprocess.run(
        [sys.executable, "-c", check],
        cwd=ROOT,
        env=_production_env(tmp_path, FLASK_VAPID_PRIVATE_KEY=key),
        capture_output=True,
        text=True,
    )
    assert web.returncode == 0, web.stderr


def test_readme_gives_the_backup_schedule_and_the_restore_drill():
    """The Production section tells operators when to back up and how to prove a
    restore works (issue 15 point 6)."""
    readme = (ROOT / "README.md").read_text()
    production = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    assert "flask backup create" in production and "flask backup restore" in production
    assert "Schedule" in production and "nightly" in production
    drill = production.split("Restore drill", 1)[1]
    for step in ("empty database", "flask photos verify", "flask db check"):
        assert step in drill, step


def test_a_failed_backup_leaves_no_database_copy_behind(tmp_path):
    """Found by an adversarial test: a create that failed half-way (here a photo file
    gone) exited 1 but left database.dump, the whole database, in the folder; nothing
    aged it out, so erased patients outlived the promised 35 days there."""
    src, _ = _source(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "photos-src")
    root = tmp_path / "backups"
    with src.app_context():
        key = db.session.scalar(sa.select(Photo.full_key))
    (tmp_path / "photos-src" / key).unlink()
    assert "Error:" in _refused(src, "backup", "create", str(root / "2026-12-07"))
    assert not root.exists() or list(root.iterdir()) == []  # no folder, no .creating-
    # A whole one appears whole: the same name, once the run succeeds.
    with src.app_context():
        row = db.session.scalar(sa.select(Photo).where(Photo.full_key == key))
        db.session.delete(row)
        db.session.commit()
    _ok(src, "backup", "create", str(root / "2026-12-07"))
    assert sorted(p.name for p in root.iterdir()) == ["2026-12-07"]
    assert (root / "2026-12-07" / "manifest.json").exists()


def test_a_folder_that_cannot_be_made_is_a_message_not_a_traceback(tmp_path):
    src, _ = _source(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "photos-src")
    assert "cannot be created" in _refused(src, "backup", "create", "/proc/no-such/backup")
    # A time before the first UTC instant Python has: a message, not an OverflowError.
    result = src.test_cli_runner().invoke(
        args=["retention", "run", "--now", "0001-01-01T00:00:00+14:00"]
    )
    assert result.exit_code == 2 and "between the years" in result.output, result.output
