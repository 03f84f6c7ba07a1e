"""Two installations given one photo store: the second's sweep refuses (issue 21).

``flask photos sweep`` removes every old file no photo row refers to. A staging server
given production's bucket prefix (or folder) sees every production photo as
unreferenced; before the owner mark, its first sweep deleted them all. Each case runs on
the local folder and on a bucket behind a real S3 endpoint on loopback (moto server).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.adapters.photo_store import OWNER_NAME
from app.adapters.photo_store_s3 import make_client
from app.extensions import db
from app.services import export
from app.services import photos
from app.services.photos.owner import OwnedElsewhere
from app.services.photos.owner import mark_for
from config import TestingConfig
from tests.conftest import Clock
from tests.conftest import build_world
from tests.services.test_backup import _ok

KEY_A = "production-key-" + "a" * 32
KEY_B = "staging-key-" + "b" * 32


def _installation(tmp_path: Path, name: str, secret: str, store: dict, **extra):  # noqa: ANN003, ANN202
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / (name + '.db')}",
        SCLERO_NOW=Clock(),
        SECRET_KEY=secret,
        SCLERO_EXPORT_DIR=str(tmp_path / f"exports-{name}"),
        **store,
        **extra,
    )
    _ok(app, "db", "upgrade")
    return app


@pytest.fixture(params=["local", "s3"])
def shared_store(request, tmp_path) -> dict:  # noqa: ANN001
    if request.param == "local":
        return {"PHOTO_STORAGE_DIR": str(tmp_path / "shared-photos")}
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return {
        "PHOTO_STORAGE_DIR": str(tmp_path / "unused-local-folder"),
        "SCLERO_PHOTO_STORE": "s3",
        "SCLERO_S3_BUCKET": bucket,
        "SCLERO_S3_ENDPOINT_URL": endpoint,
        "SCLERO_S3_REGION": "us-east-1",
        "SCLERO_S3_PREFIX": "clinic/",
    }


def _keys(app) -> set[str]:  # noqa: ANN001
    with app.app_context():
        return set(photos.store().keys())


def _put(app, data: bytes) -> str:  # noqa: ANN001
    with app.app_context():
        return photos.store().put(data).key


def _dispose(*apps) -> None:  # noqa: ANN002
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_a_second_installation_cannot_sweep_away_the_first_ones_photos(tmp_path, shared_store):
    production = _installation(tmp_path, "production", KEY_A, shared_store)
    staging = _installation(tmp_path, "staging", KEY_B, shared_store)
    try:
        # Production sweeps first: nothing of its own to remove, and the store is marked.
        assert "removed 0" in _ok(production, "photos", "sweep", "--older-than", "0")
        with production.app_context():
            assert photos.store().owner() == mark_for(KEY_A)
        # A file only production's rows would know (its row is in production's database).
        kept = _put(production, b"a production photo")
        assert kept in _keys(staging)

        result = staging.test_cli_runner().invoke(args=["photos", "sweep", "--older-than", "0"])
        assert result.exit_code == 1, result.output
        assert "belongs to another ScleroCare installation" in result.output
        assert "nothing was removed" in result.output and "Traceback" not in result.output
        assert kept in _keys(staging)  # not a byte lost
        with staging.app_context(), pytest.raises(OwnedElsewhere):
            photos.sweep(0)
        assert kept in _keys(production)
        # Production's own sweeps go on as before, and still keep what it refers to not.
        assert "removed 1" in _ok(production, "photos", "sweep", "--older-than", "0")
    finally:
        _dispose(production, staging)


def test_a_rotated_key_is_recognised_and_a_replaced_key_needs_claim(tmp_path, shared_store):
    before = _installation(tmp_path, "clinic", KEY_A, shared_store)
    _ok(before, "photos", "sweep")
    orphan = _put(before, b"left over by a crashed upload")
    new_key = "rotated-key-" + "c" * 32
    # Rotated the documented way: the old key among the fallbacks. Recognised, re-marked.
    rotated = _installation(tmp_path, "clinic", new_key, shared_store, SECRET_KEY_FALLBACKS=[KEY_A])
    assert "removed 0" in _ok(rotated, "photos", "sweep")
    with rotated.app_context():
        assert photos.store().owner() == mark_for(new_key)
    # Replaced outright: refused until the operator claims the store on purpose.
    replaced = _installation(tmp_path, "clinic", KEY_B, shared_store)
    result = replaced.test_cli_runner().invoke(args=["photos", "sweep", "--older-than", "0"])
    assert result.exit_code == 1 and "--claim" in result.output
    assert orphan in _keys(replaced)
    out = _ok(replaced, "photos", "sweep", "--older-than", "0", "--claim")
    assert "removed 1" in out and orphan not in _keys(replaced)
    with replaced.app_context():
        assert photos.store().owner() == mark_for(KEY_B)
    _dispose(before, rotated, replaced)


def test_a_damaged_mark_is_not_taken_for_no_mark(tmp_path, shared_store):
    app = _installation(tmp_path, "clinic", KEY_A, shared_store)
    kept = _put(app, b"a photo of an installation whose mark was damaged")
    damaged = b"\x00\xff\xfe garbage " + b"x" * 5000
    with app.app_context():
        store = photos.store()
        assert store.owner() is None
        if shared_store.get("SCLERO_PHOTO_STORE") == "s3":
            store.client.put_object(
                Bucket=store.bucket, Key=store.prefix + OWNER_NAME, Body=damaged
            )
        else:
            (Path(store.root) / OWNER_NAME).write_bytes(damaged)
        assert store.owner() not in (None, mark_for(KEY_A))
    result = app.test_cli_runner().invoke(args=["photos", "sweep", "--older-than", "0"])
    assert result.exit_code == 1 and "another ScleroCare installation" in result.output
    assert kept in _keys(app)
    _dispose(app)


def test_the_mark_alone_does_not_make_a_store_used_for_a_restore(tmp_path, shared_store):
    app = _installation(tmp_path, "clinic", KEY_A, shared_store)
    _ok(app, "photos", "sweep")
    with app.app_context():
        store = photos.store()
        assert store.owner() == mark_for(KEY_A)
        assert not store.has_files() and list(store.keys()) == []
        store.put(b"a photo")
        assert store.has_files()
    _dispose(app)


def test_the_mark_tells_nothing_of_the_key():
    mark = mark_for(KEY_A)
    assert len(mark) == 64 and KEY_A not in mark and mark != mark_for(KEY_B)
    assert OWNER_NAME.startswith(".")  # never a photo key, never swept


def test_another_installations_export_sweep_leaves_this_ones_zips(tmp_path, s3_endpoint, s3_bucket):
    """Zips wait under the photo store's prefix: a second installation's worker swept
    them away on every pass (an adversarial test). The photo store's mark decides."""
    store = {
        "PHOTO_STORAGE_DIR": str(tmp_path / "unused-local-folder"),
        "SCLERO_PHOTO_STORE": "s3",
        "SCLERO_S3_BUCKET": s3_bucket,
        "SCLERO_S3_ENDPOINT_URL": s3_endpoint,
        "SCLERO_S3_REGION": "us-east-1",
        "SCLERO_S3_PREFIX": "clinic/",
    }
    production = _installation(tmp_path, "production", KEY_A, store)
    staging = _installation(tmp_path, "staging", KEY_B, store)
    try:
        _ok(production, "photos", "sweep")  # marks the store as production's
        name = "export-7-" + "c" * 32 + ".zip"
        client = make_client(s3_endpoint, "us-east-1")
        client.put_object(Bucket=s3_bucket, Key=f"clinic/exports/{name}", Body=b"PK ready")
        with staging.app_context():
            assert export.sweep(timedelta(0)) == 0
        listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="clinic/exports/")
        assert [o["Key"] for o in listed.get("Contents", [])] == [f"clinic/exports/{name}"]
        with production.app_context():  # its own sweep still removes a stray
            assert export.sweep(timedelta(0)) == 1
    finally:
        _dispose(production, staging)


def test_a_restore_into_another_installations_store_is_refused(tmp_path, shared_store):
    source = _installation(tmp_path, "source", KEY_A, {"PHOTO_STORAGE_DIR": str(tmp_path / "p")})
    with source.app_context():
        build_world()
    backup = tmp_path / "backup"
    _ok(source, "backup", "create", str(backup))
    other = _installation(tmp_path, "other", KEY_B, shared_store)
    _ok(other, "photos", "sweep")  # the store is marked as the other installation's
    target = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'target.db'}",
        SCLERO_NOW=Clock(),
        SECRET_KEY=KEY_A,
        SCLERO_EXPORT_DIR=str(tmp_path / "exports-target"),
        **shared_store,
    )
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup)])
    assert result.exit_code == 1 and "another ScleroCare installation" in result.output
    with target.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
    _dispose(source, other, target)
