"""Backups you can restore: the database and the photo files, checked end to end.

``create(DIR)`` writes, into a new or empty folder (built beside it as
``.creating-<name>-<random>`` and renamed into place once whole, so a failed or killed run
never leaves a backup-looking folder with a database copy that nothing ages out: a
failure removes its own, and ``flask backup prune`` removes one a kill left):

* ``database.dump``: on PostgreSQL a ``pg_dump`` custom-format archive; on SQLite a copy
  made with SQLite's online backup API. Either is one consistent snapshot.
* ``photos/ab/<key>.jpg``: every photo file the snapshot refers to, full size and
  thumbnail, each checked against the sha256 its database row records while copying.
* ``manifest.json``: each photo file's sha256 and size, the migration revision, and
  when and from which kind of database the copy was made.

Consistency. Photo files never change once written (new names for new photos), and a
row is only written after its file is durably in place (app.adapters.photo_store). So the
backup takes the database snapshot first and copies exactly the files that snapshot
refers to. On PostgreSQL the list of files is read inside the very snapshot pg_dump
uses (``pg_export_snapshot`` + ``pg_dump --snapshot``). A photo deleted between the
snapshot and the copy makes the backup stop with a message: run it again.

``restore(DIR)`` checks every file against the manifest first, refuses a database that
has any table or a photo store that has any file (a restore never merges into live
data), then loads the database (``pg_restore`` / the backup API) and the files, through
the configured store: the local folder, or the S3 bucket (``SCLERO_PHOTO_STORE=s3``).
Backups read the photo bytes through the store too, so either store backs up to files.

``pg_dump`` and ``pg_restore`` on PATH must have the server's major version: an older
one cannot dump a newer server, and a newer one writes archives an older
``pg_restore`` cannot read, which would only show on the day of the restore.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.adapters.photo_store import StorageError
from app.adapters.photo_store import fsync_dir
from app.extensions import db
from app.models import Photo
from app.services import photos
from app.services.photos.owner import ensure_ours
from app.services.photos.owner import owned_elsewhere

FORMAT = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
PHOTOS = "photos"
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.jpg$")


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    """What a backup or restore covered."""

    folder: str
    dialect: str
    photo_files: int
    revision: str | None


# ------------------------------------------------------------------ create


CREATING = ".creating-"


def create(folder: str, now: datetime) -> Summary:
    """Write a consistent backup of the database and the photo files into ``folder``:
    built in a sibling ``.creating-`` folder, renamed into place only once complete."""
    _empty_folder(folder, create=False)
    parent = os.path.dirname(os.path.abspath(folder)) or "."
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
        building = os.path.join(
            parent, f"{CREATING}{os.path.basename(os.path.abspath(folder))}-{os.urandom(4).hex()}"
        )
        os.mkdir(building, mode=0o700)
    except OSError as exc:
        raise BackupError(f"{folder} cannot be created here: {exc.strerror or exc}.") from None
    try:
        summary = _create_in(building, now)
        # rename(2) replaces an empty folder: the backup appears whole, or not at all.
        os.rename(building, folder)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return Summary(folder, summary.dialect, summary.photo_files, summary.revision)


def _create_in(folder: str, now: datetime) -> Summary:
    engine = db.engine
    target = os.path.join(folder, DUMP)
    if engine.dialect.name == "postgresql":
        keys, revision = _pg_dump(target)
    elif engine.dialect.name == "sqlite":
        _sqlite_copy(engine.url.database, target)
        keys, revision = _referenced_in_sqlite(target)
    else:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {engine.dialect.name}.")
    files = _copy_photos(keys, os.path.join(folder, PHOTOS))
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "dialect": engine.dialect.name,
        "revision": revision,
        "database_sha256": _sha256_file(target),
        "photos": files,
    }
    _write_durably(os.path.join(folder, MANIFEST), json.dumps(manifest, indent=1).encode())
    fsync_dir(folder)
    return Summary(folder, engine.dialect.name, len(files), revision)


def _pg_dump(target: str) -> tuple[dict[str, str], str | None]:
    """pg_dump inside a snapshot exported by a transaction that also lists the photos."""
    _check_pg_tool("pg_dump")
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            keys = _photo_keys(conn)
            revision = _revision(conn)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    f"--dbname={_libpq_url()}",
                ]
            )
    return keys, revision


def _sqlite_copy(source: str | None, target: str) -> None:
    if not source or source == ":memory:":
        raise BackupError("This SQLite database is in memory: there is nothing to back up.")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # one consistent copy, even while others write
    finally:
        dst.close()
        src.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())


def _referenced_in_sqlite(path: str) -> tuple[dict[str, str], str | None]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return _photo_keys(conn), _revision(conn)
    finally:
        engine.dispose()


def _photo_keys(conn: sa.Connection) -> dict[str, str]:
    """Every photo file the database refers to, with the sha256 it records."""
    keys: dict[str, str] = {}
    query = sa.select(Photo.full_key, Photo.full_sha256, Photo.thumb_key, Photo.thumb_sha256)
    for full_key, full_sha, thumb_key, thumb_sha in conn.execute(query):
        keys[full_key] = full_sha
        keys[thumb_key] = thumb_sha
    return keys


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.scalar(sa.text("SELECT version_num FROM alembic_version"))


def _copy_photos(keys: dict[str, str], folder: str) -> dict[str, dict[str, object]]:
    store = photos.store()
    files: dict[str, dict[str, object]] = {}
    for key, sha256 in sorted(keys.items()):
        try:
            data = store.read(key, sha256)  # checks the bytes against the row's sha256
        except Exception as exc:  # noqa: BLE001 - any unreadable file stops the backup
            raise BackupError(
                f"Photo file {key} is missing or damaged ({exc}). If a photo was deleted "
                "during the backup, run it again; otherwise run `flask photos verify`."
            ) from None
        path = os.path.join(folder, key)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        _write_durably(path, data)
        files[key] = {"sha256": sha256, "size": len(data)}
    for sub in {os.path.dirname(os.path.join(folder, k)) for k in files}:
        fsync_dir(sub)
    return files


# ------------------------------------------------------------------ restore


def restore(folder: str) -> Summary:
    """Restore a backup into an empty database and an empty photo folder."""
    manifest = _read_manifest(folder)
    dump = os.path.join(folder, DUMP)
    if _sha256_file(dump) != manifest["database_sha256"]:
        raise BackupError(f"{dump} does not match its manifest: the backup is damaged.")
    files = _checked_files(folder, manifest["photos"])
    engine = db.engine
    if engine.dialect.name != manifest["dialect"]:
        raise BackupError(
            f"This backup is of a {manifest['dialect']} database; the configured database "
            f"is {engine.dialect.name}."
        )
    tables = sa.inspect(engine).get_table_names()
    if tables:
        raise BackupError(
            f"The database is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}). "
            "Restore into a new, empty database. If an earlier restore into it was stopped "
            "part-way, drop and re-create the database and empty the photo store (or give "
            "a new prefix), then restore again."
        )
    store = photos.store()
    try:
        used = store.has_files()
    except StorageError as exc:
        raise BackupError(f"The photo store cannot be read: {exc}") from None
    if used:
        raise BackupError(f"{store.where().capitalize()} is not empty. Restore into an empty one.")
    if owned_elsewhere(store):
        # Its sweep would delete every restored photo (no row of its database names them).
        raise BackupError(
            f"{store.where().capitalize()} is marked as another ScleroCare installation's "
            "(its owner mark was written under a different FLASK_SECRET_KEY). Restore into "
            "a store of this installation's own."
        )
    if engine.dialect.name == "postgresql":
        _check_pg_tool("pg_restore")
        engine.dispose()
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={_libpq_url()}",
                dump,
            ]
        )
    else:
        engine.dispose()
        _sqlite_copy(dump, engine.url.database or "")
    for key, path, sha256 in files:
        try:
            with open(path, "rb") as f:  # streamed, and checked again as it is written
                store.put_at(key, f, sha256)
        except (StorageError, OSError) as exc:
            raise BackupError(
                f"Photo file {key} could not be written ({exc}); the database is restored: "
                "empty the photo store and the database, then restore again."
            ) from None
    with contextlib.suppress(StorageError):  # the first sweep marks it otherwise
        ensure_ours(store)  # these photos are this installation's now
    return Summary(folder, engine.dialect.name, len(files), manifest.get("revision"))


def _read_manifest(folder: str) -> dict:
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise BackupError(f"{folder} has no {MANIFEST}: it is not a ScleroCare backup.") from None
    except ValueError:
        raise BackupError(f"{path} is not readable JSON: the backup is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup this version can restore.")
    return manifest


def _checked_files(folder: str, listed: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(key, path, sha256) of every photo file of the backup, each read in chunks and
    checked against the manifest: a clinic's photos are never held in memory together."""
    out = []
    for key, info in sorted(listed.items()):
        if not _KEY.match(key):
            raise BackupError(f"The manifest names an unexpected file {key!r}.")
        path = os.path.join(folder, PHOTOS, key)
        try:
            sha256 = _sha256_file(path)
        except OSError:
            raise BackupError(f"{path} is missing: the backup is incomplete.") from None
        if sha256 != info.get("sha256"):
            raise BackupError(f"{path} does not match its sha256: the backup is damaged.")
        out.append((key, path, sha256))
    return out


# ------------------------------------------------------------------ helpers


def _empty_folder(folder: str, *, create: bool) -> None:
    if os.path.exists(folder):
        if not os.path.isdir(folder) or os.listdir(folder):
            raise BackupError(f"{folder} is not an empty folder: choose a new one.")
    elif create:
        os.makedirs(folder, mode=0o700)


def _libpq_url() -> str:
    """The configured database as a libpq URL (no SQLAlchemy driver name)."""
    url = db.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _major(version_output: str) -> int | None:
    """The major version in ``pg_dump (PostgreSQL) 15.20 (Debian ...)``."""
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output)
    return int(found.group(1)) if found else None


def _check_pg_tool(tool: str) -> None:
    """The tool on PATH must have the server's major version (see the module doc)."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not on PATH. Install the PostgreSQL client tools.")
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{path} --version failed: {exc}") from None
    with db.engine.connect() as conn:
        server_num = int(conn.scalar(sa.text("SHOW server_version_num")))
    server, tool_major = server_num // 10000, _major(out)
    if tool_major != server:
        raise BackupError(
            f"{path} is version {tool_major} but the server is PostgreSQL {server}: use the "
            f"client tools of version {server} (e.g. put /usr/lib/postgresql/{server}/bin "
            "first on PATH)."
        )


def _run(args: list[str]) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{args[0]} could not run: {exc}") from None
    if done.returncode != 0:
        # Never echo the command line: it carries the database URL.
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[:2000]}")


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: the backup is incomplete.") from None
    return digest.hexdigest()


def _write_durably(path: str, data: bytes) -> None:
    """A new file (never an existing one), mode 0600, on disk before this returns."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
