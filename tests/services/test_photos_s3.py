"""The photo diary on an S3 bucket (issue 21 point 1), through the real routes and
commands, on a loopback S3 endpoint (moto server mode, ``tests/s3_server.py``).

Uploads land in the bucket under the configured prefix and are served with the same
private headers; an altered object is never served; a bucket that does not answer is a
clear 503 within its timeout; ``flask photos sweep|verify|migrate --to s3`` and
``flask backup create|restore`` work on the bucket. Run in CI: nothing here skips.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.adapters.photo_store import OWNER_NAME
from app.adapters.photo_store_s3 import make_client
from app.clock import now
from app.extensions import db
from app.models import Photo
from app.services import photos
from app.web import PHOTO_HEADERS
from config import ConfigError
from config import ProductionConfig
from config import TestingConfig
from config import unsafe_production_settings
from tests.conftest import Clock
from tests.conftest import build_world
from tests.conftest import login
from tests.s3_server import start_silent_server
from tests.services.test_backup import _ok
from tests.services.test_backup import _refused
from tests.services.test_photos import ALICE
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import photo_ids
from tests.services.test_photos import stored_files
from tests.services.test_photos import upload

PREFIX = "clinic-a/"


def objects(app) -> dict[str, bytes]:  # noqa: ANN001
    """Every object in the test's bucket but the owner mark a sweep writes (it holds no
    photo; tests/services/test_photo_store_owner.py checks it): name -> bytes."""
    client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    bucket = app.config["SCLERO_S3_BUCKET"]
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
        if item["Key"].rsplit("/", 1)[-1] != OWNER_NAME
    }


def _row(in_app, pid: int) -> Photo:  # noqa: ANN001
    return in_app(lambda: db.session.get(Photo, pid))


@pytest.fixture
def alice(s3_app, client, world):  # noqa: ANN001
    login(client, ALICE)
    return client


def test_an_upload_goes_to_the_bucket_and_is_served_with_the_private_headers(
    alice, s3_app, in_app, runner
):
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    (pid,) = photo_ids(in_app)
    row = _row(in_app, pid)
    stored = objects(s3_app)
    assert set(stored) == {PREFIX + row.full_key, PREFIX + row.thumb_key}
    assert hashlib.sha256(stored[PREFIX + row.full_key]).hexdigest() == row.full_sha256
    assert stored_files(s3_app) == []  # nothing in the local folder
    for path, sha in (("image", row.full_sha256), ("thumb", row.thumb_sha256)):
        r = alice.get(f"/patient/photos/{pid}/{path}")
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        assert hashlib.sha256(r.data).hexdigest() == sha
        for name, value in PHOTO_HEADERS.items():
            assert r.headers[name] == value, name
    # Never public: the object has no grant but the owner's.
    client = make_client(s3_app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    acl = client.get_object_acl(Bucket=s3_app.config["SCLERO_S3_BUCKET"], Key=PREFIX + row.full_key)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert "all photo files match" in runner.invoke(args=["photos", "verify"]).output
    assert "removed 0 unreferenced" in runner.invoke(args=["photos", "sweep"]).output

    r = alice.post(f"/patient/photos/{pid}/delete", data={"confirm": "yes"})
    assert r.status_code == 303 and objects(s3_app) == {}


def test_sweep_on_the_bucket_removes_only_old_unreferenced_objects(alice, s3_app, in_app, runner):
    assert upload(alice, phone_jpeg((200, 150))).status_code == 303
    orphan = in_app(lambda: photos.store().put(b"left over by a crashed upload"))
    time.sleep(2)
    young = in_app(lambda: photos.store().put(b"an upload in flight"))
    out = runner.invoke(args=["photos", "sweep", "--older-than", str(1.5 / 60)]).output
    assert "removed 1 unreferenced" in out
    names = set(objects(s3_app))
    assert PREFIX + orphan.key not in names and PREFIX + young.key in names
    assert in_app(photos.verify_all) == []


def test_sweep_refuses_an_age_that_would_remove_uploads_in_flight(alice, s3_app, in_app, runner):
    young = in_app(lambda: photos.store().put(b"an upload in flight on another instance"))
    for bad in ("-60", "nan", "inf"):
        result = runner.invoke(args=["photos", "sweep", "--older-than", bad])
        assert result.exit_code == 2 and "0 or more" in result.output, (bad, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert PREFIX + young.key in set(objects(s3_app))


def test_an_altered_object_is_never_served(alice, s3_app, in_app, runner):
    assert upload(alice, phone_jpeg((200, 150))).status_code == 303
    (pid,) = photo_ids(in_app)
    row = _row(in_app, pid)
    client = make_client(s3_app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    bucket, name = s3_app.config["SCLERO_S3_BUCKET"], PREFIX + row.full_key
    body = client.get_object(Bucket=bucket, Key=name)["Body"].read()
    client.put_object(Bucket=bucket, Key=name, Body=body + b"<script>alert(1)</script>")
    r = alice.get(f"/patient/photos/{pid}/image")
    # The local store's behaviour (test_photos.test_an_altered_file_is_never_served):
    # a handled 404 with a placeholder picture, never the altered bytes.
    assert r.status_code == 404 and r.mimetype == "image/svg+xml"
    assert b"alert(1)" not in r.data and b"<script" not in r.data
    assert "no-store" in r.headers["Cache-Control"]
    assert in_app(photos.verify_all) == [pid]
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output


def test_a_silent_bucket_is_a_clear_503_within_the_timeout(alice, s3_app, in_app, runner):
    assert upload(alice, phone_jpeg((200, 150))).status_code == 303
    (pid,) = photo_ids(in_app)
    url, stop = start_silent_server()
    try:
        s3_app.config.update(SCLERO_S3_ENDPOINT_URL=url, SCLERO_S3_TIMEOUT=1.0)
        started = time.monotonic()
        r = alice.get(f"/patient/photos/{pid}/image")
        waited = time.monotonic() - started
        assert r.status_code == 503 and r.mimetype == "text/html", r.status_code
        assert "try again" in r.get_data(as_text=True)
        assert waited < 1.0 * 2 + 2, waited  # two attempts of a 1 s timeout, plus slack
        r = upload(alice, phone_jpeg((200, 150)))
        assert r.status_code == 503 and photo_ids(in_app) == [pid]  # no row without files
        result = runner.invoke(args=["photos", "verify"])
        assert result.exit_code == 1 and "did not answer" in result.output
        assert "Traceback" not in result.output
    finally:
        stop()


def test_migrate_copies_the_folder_resumes_after_a_stop_and_verifies(
    app, client, world, in_app, runner, s3_endpoint, s3_bucket
):
    login(client, ALICE)
    for size in ((200, 150), (300, 200)):
        assert upload(client, phone_jpeg(size)).status_code == 303
    local = stored_files(app)
    assert len(local) == 4
    app.config.update(
        SCLERO_S3_BUCKET=s3_bucket, SCLERO_S3_ENDPOINT_URL=s3_endpoint, SCLERO_S3_PREFIX=PREFIX
    )
    # Stopped after one copy (as a kill would stop it between objects)...
    result = runner.invoke(args=["photos", "migrate", "--to", "s3", "--limit", "1"])
    assert result.exit_code == 2, result.output
    assert "1 copied, 0 already in the bucket" in result.output
    assert len(objects(app)) == 1
    # ... then resumed: the one already there is checked by its sha256 and skipped.
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert result.exit_code == 0, result.output
    assert "4 photo file(s) referenced: 3 copied, 1 already in the bucket" in result.output
    assert "SCLERO_PHOTO_STORE=s3" in result.output
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert "0 copied, 4 already in the bucket" in result.output  # idempotent
    assert stored_files(app) == local  # the local files are left alone

    app.config["SCLERO_PHOTO_STORE"] = "s3"
    assert "all photo files match" in runner.invoke(args=["photos", "verify"]).output
    rows = in_app(lambda: list(db.session.scalars(sa.select(Photo))))
    stored = objects(app)
    for row in rows:
        assert hashlib.sha256(stored[PREFIX + row.full_key]).hexdigest() == row.full_sha256
        r = client.get(f"/patient/photos/{row.id}/image")
        assert r.status_code == 200 and hashlib.sha256(r.data).hexdigest() == row.full_sha256


def test_migrate_reports_a_damaged_local_file_and_does_not_copy_it(
    app, client, world, in_app, runner, s3_endpoint, s3_bucket
):
    login(client, ALICE)
    assert upload(client, phone_jpeg((200, 150))).status_code == 303
    row = _row(in_app, photo_ids(in_app)[0])
    with open(Path(app.config["PHOTO_STORAGE_DIR"]) / row.thumb_key, "ab") as f:
        f.write(b"x")
    app.config.update(SCLERO_S3_BUCKET=s3_bucket, SCLERO_S3_ENDPOINT_URL=s3_endpoint)
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert result.exit_code == 1
    assert "1 copied, 0 already in the bucket, 1 missing or damaged" in result.output
    assert set(objects(app)) == {row.full_key}
    app.config["SCLERO_S3_BUCKET"] = None
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert result.exit_code == 1 and "SCLERO_S3_BUCKET is not set" in result.output


def _s3_app(url: str, tmp_path: Path, endpoint: str, bucket: str):  # noqa: ANN202
    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        PHOTO_STORAGE_DIR=str(tmp_path / "unused-local-folder"),
        SCLERO_NOW=Clock(),
        SCLERO_PHOTO_STORE="s3",
        SCLERO_S3_BUCKET=bucket,
        SCLERO_S3_ENDPOINT_URL=endpoint,
        SCLERO_S3_PREFIX=PREFIX,
    )


def test_backup_copies_objects_to_files_and_restores_into_an_empty_bucket(
    tmp_path, s3_endpoint, s3_bucket
):
    src = _s3_app(f"sqlite:///{tmp_path / 'src.db'}", tmp_path, s3_endpoint, s3_bucket)
    _ok(src, "db", "upgrade")
    with src.app_context():
        build_world()
    client = src.test_client()
    login(client, ALICE)
    assert upload(client, phone_jpeg((200, 150))).status_code == 303
    folder = tmp_path / "backup"
    assert "2 photo file(s)" in _ok(src, "backup", "create", str(folder))
    assert len(list((folder / "photos").rglob("*.jpg"))) == 2
    with src.app_context():
        db.engine.dispose()

    # Into the same, used bucket: refused before anything is written.
    used = _s3_app(f"sqlite:///{tmp_path / 'used.db'}", tmp_path, s3_endpoint, s3_bucket)
    assert "is not empty" in _refused(used, "backup", "restore", str(folder))

    empty = f"restored-{s3_bucket}"[:63]
    make_client(s3_endpoint, "us-east-1").create_bucket(Bucket=empty)
    dst = _s3_app(f"sqlite:///{tmp_path / 'dst.db'}", tmp_path, s3_endpoint, empty)
    assert "2 photo file(s)" in _ok(dst, "backup", "restore", str(folder))
    assert "all photo files match" in _ok(dst, "photos", "verify")
    with dst.app_context():
        pid = db.session.scalar(sa.select(Photo.id))
    client = dst.test_client()
    login(client, ALICE)
    assert client.get(f"/patient/photos/{pid}/image").status_code == 200
    with dst.app_context():
        db.engine.dispose()


def test_production_refuses_s3_without_a_bucket():
    config = {"SCLERO_PHOTO_STORE": "s3", "SCLERO_S3_BUCKET": None}
    assert any("SCLERO_S3_BUCKET" in p for p in unsafe_production_settings(config))
    config["SCLERO_S3_BUCKET"] = "clinic-photos"
    assert not any("SCLERO_S3" in p for p in unsafe_production_settings(config))
    assert any("local or s3" in p for p in unsafe_production_settings({"SCLERO_PHOTO_STORE": "x"}))
    # Timeouts boto3 cannot use (a ValueError, a 500, on every photo), tries, and
    # prefixes that are not plain folder names are refused by name at start-up.
    for name, value in (
        ("SCLERO_S3_TIMEOUT", "-1"),
        ("SCLERO_S3_TIMEOUT", "nan"),
        ("SCLERO_S3_TIMEOUT", "five"),
        ("SCLERO_S3_TIMEOUT", "0"),
        ("SCLERO_S3_ATTEMPTS", "0"),
        ("SCLERO_S3_ATTEMPTS", "2.5"),
        ("SCLERO_S3_PREFIX", "../"),
        ("SCLERO_S3_PREFIX", "a//b/"),
        ("SCLERO_S3_PREFIX", "a/./b"),
        ("SCLERO_S3_PREFIX", "a\\b"),
        ("SCLERO_S3_PREFIX", "a\nb"),
    ):
        problems = unsafe_production_settings({**config, name: value})
        assert any(p.startswith(name) for p in problems), (name, value)
    for name, value in (
        ("SCLERO_S3_TIMEOUT", " 2.5 "),
        ("SCLERO_S3_ATTEMPTS", "3"),
        ("SCLERO_S3_PREFIX", "/clinic-a/"),
        ("SCLERO_S3_PREFIX", "groupe/clinique-été/"),
    ):
        problems = unsafe_production_settings({**config, name: value})
        assert not any("SCLERO_S3" in p for p in problems), (name, value)
    settings = {
        name: getattr(ProductionConfig, name) for name in dir(ProductionConfig) if name.isupper()
    }
    settings.update(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://db/x",
        SECRET_KEY="k" * 40,
        MAIL_DEFAULT_SENDER="a@b.example",
        SCLERO_BASE_URL="https://clinic.example",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/5",
        SCLERO_PHOTO_STORE="s3",
        SCLERO_S3_BUCKET=None,
    )
    with pytest.raises(ConfigError, match="SCLERO_S3_BUCKET"):
        ProductionConfig.validate(settings)


def test_the_patients_export_streams_the_photos_from_the_bucket(s3_app, in_app, world):
    from app.services import export
    from tests.services.test_export import ask_and_build
    from tests.services.test_export import principal_of
    from tests.services.test_export import seed_diary

    def run():  # noqa: ANN202
        seed_diary(world.patient_a, checkins=1, photos=2, photo_size=3 * 1024 * 1024)
        db.session.commit()
        rows = list(db.session.scalars(sa.select(Photo.full_sha256)))
        job_id = ask_and_build(world.patient_a)
        # The zip waits in the bucket (not the export folder): downloaded as the patient.
        patient = principal_of(world.patient_a)
        data = b"".join(export.take_download(patient, job_id, "127.0.0.1", now()))
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {n: zf.read(n) for n in zf.namelist() if n.startswith("photos/")}
        return files, rows

    files, rows = in_app(run)
    assert len(objects(s3_app)) == 4  # the photos were stored in the bucket, not a folder
    assert stored_files(s3_app) == []
    assert sorted(hashlib.sha256(b).hexdigest() for b in files.values()) == sorted(rows)


def test_the_settings_come_from_the_environment_and_the_client_is_built_once(s3_app, in_app):
    env = {
        "SCLERO_PHOTO_STORE": "S3",
        "SCLERO_S3_BUCKET": "clinic-photos",
        "SCLERO_S3_ENDPOINT_URL": "https://minio.internal:9000",
        "SCLERO_S3_REGION": "eu-west-2",
        "SCLERO_S3_PREFIX": "clinic-a/",
    }
    code = "import config, json; print(json.dumps({n: getattr(config.Config, n) for n in %r}))"
    out = subprocess.run(
        [sys.executable, "-c", code % sorted(env)],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert json.loads(out) == env | {"SCLERO_PHOTO_STORE": "s3"}
    first, second = in_app(photos.store), in_app(photos.store)
    assert first is not second and first.client is second.client  # one client per process


def test_migrate_copies_again_an_object_whose_metadata_lies(
    app, client, world, in_app, runner, s3_endpoint, s3_bucket
):
    """The sha256 in an object's metadata is a claim, not proof: a resumed migration
    reads the object back, and replaces one whose bytes do not match its row."""
    login(client, ALICE)
    assert upload(client, phone_jpeg((200, 150))).status_code == 303
    row = _row(in_app, photo_ids(in_app)[0])
    app.config.update(
        SCLERO_S3_BUCKET=s3_bucket, SCLERO_S3_ENDPOINT_URL=s3_endpoint, SCLERO_S3_PREFIX=PREFIX
    )
    assert runner.invoke(args=["photos", "migrate", "--to", "s3"]).exit_code == 0
    s3 = make_client(s3_endpoint, "us-east-1")
    s3.put_object(
        Bucket=s3_bucket,
        Key=PREFIX + row.full_key,
        Body=b"damaged in the bucket",
        Metadata={"sha256": row.full_sha256},
    )
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert result.exit_code == 0, result.output
    assert "1 copied, 1 already in the bucket" in result.output
    body = objects(app)[PREFIX + row.full_key]
    assert hashlib.sha256(body).hexdigest() == row.full_sha256


def test_migrate_refuses_a_prefix_another_installation_sweeps(
    app, client, world, in_app, runner, s3_endpoint, s3_bucket
):
    login(client, ALICE)
    assert upload(client, phone_jpeg((200, 150))).status_code == 303
    app.config.update(
        SCLERO_S3_BUCKET=s3_bucket, SCLERO_S3_ENDPOINT_URL=s3_endpoint, SCLERO_S3_PREFIX=PREFIX
    )
    make_client(s3_endpoint, "us-east-1").put_object(
        Bucket=s3_bucket, Key=PREFIX + OWNER_NAME, Body=b"0" * 64
    )
    result = runner.invoke(args=["photos", "migrate", "--to", "s3"])
    assert result.exit_code == 1 and "another ScleroCare installation" in result.output
    assert objects(app) == {}  # nothing copied into the other installation's prefix
