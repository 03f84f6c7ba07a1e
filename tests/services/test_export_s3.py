"""'Download my data' with the photo store in S3 (issue 21 point 2): the finished zip
waits in the bucket, so the machine that built it and the one that serves it share no
folder. Run against a real S3 endpoint on loopback (moto server mode).

Each test builds in one scratch folder and serves with another, as a dispatcher on one
machine and an app server on the next would.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from datetime import timedelta

import pytest

from app.adapters.photo_store import StorageUnavailable
from app.adapters.photo_store_s3 import make_client
from app.clock import now
from app.extensions import db
from app.models import ExportJob
from app.models import ExportState
from app.services import export
from app.services.clinic import closure_steps
from tests.s3_server import start_silent_server
from tests.services.test_export import ask_and_build
from tests.services.test_export import principal_of

PREFIX = "clinic-a/"


def exports_in_bucket(app) -> dict[str, bytes]:  # noqa: ANN001
    client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    bucket = app.config["SCLERO_S3_BUCKET"]
    listed = client.list_objects_v2(Bucket=bucket, Prefix=PREFIX + "exports/")
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed.get("Contents", [])
    }


@pytest.fixture
def machines(s3_app, tmp_path):
    """Two scratch folders: the builder's and the server's (never the same disk)."""
    builder, server = tmp_path / "builder", tmp_path / "server"
    builder.mkdir()
    server.mkdir()
    return s3_app, str(builder), str(server)


def test_a_zip_built_on_one_machine_is_downloaded_once_from_another(machines, in_app, world):
    app, builder, server = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    job_id = in_app(lambda: ask_and_build(world.patient_a))
    assert os.listdir(builder) == []  # no part, no zip left on the builder
    (key,) = exports_in_bucket(app)
    assert key.startswith(PREFIX + "exports/export-") and key.endswith(".zip")

    app.config["SCLERO_EXPORT_DIR"] = server

    def download():
        user = principal_of(world.patient_a)
        data = b"".join(export.take_download(user, job_id, "127.0.0.1", now()))
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(user, job_id, "127.0.0.1", now())
        return data, gone.value.reason

    data, reason = in_app(download)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith(".json") for n in names) and reason == "used"
    assert exports_in_bucket(app) == {}  # single use: gone once sent
    assert os.listdir(server) == []
    # Never public: the object had only its owner's grant (as photos).
    client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    assert client.list_objects_v2(Bucket=app.config["SCLERO_S3_BUCKET"]).get("KeyCount") == 0


def test_an_unused_zip_expires_out_of_the_bucket(machines, in_app, world, clock):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    in_app(lambda: ask_and_build(world.patient_a))
    assert len(exports_in_bucket(app)) == 1
    clock.advance(hours=24, seconds=1)
    assert in_app(lambda: export.run_due(now).expired) == 1
    assert exports_in_bucket(app) == {}


def test_a_zip_gone_from_the_bucket_is_a_clear_failure(machines, in_app, world):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    job_id = in_app(lambda: ask_and_build(world.patient_a))
    client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    for key in exports_in_bucket(app):
        client.delete_object(Bucket=app.config["SCLERO_S3_BUCKET"], Key=key)

    def run():
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        job = db.session.get(ExportJob, job_id)
        return gone.value.reason, job.state, job.last_error

    assert in_app(run) == ("failed", ExportState.FAILED, "file missing")


def test_a_silent_bucket_keeps_the_link_for_another_try(machines, in_app, world):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    job_id = in_app(lambda: ask_and_build(world.patient_a))
    endpoint = app.config["SCLERO_S3_ENDPOINT_URL"]
    url, stop = start_silent_server()
    try:
        app.config.update(SCLERO_S3_ENDPOINT_URL=url, SCLERO_S3_TIMEOUT=1.0)

        def silent():
            with pytest.raises(StorageUnavailable):
                export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())

        in_app(silent)
    finally:
        stop()
        app.config.update(SCLERO_S3_ENDPOINT_URL=endpoint, SCLERO_S3_TIMEOUT=5.0)
    assert in_app(lambda: db.session.get(ExportJob, job_id).state) == ExportState.READY
    data = in_app(
        lambda: b"".join(
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        )
    )
    assert data.startswith(b"PK")


def test_the_sweep_removes_only_old_zips_no_ready_job_names(machines, in_app, world):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    in_app(lambda: ask_and_build(world.patient_a))
    client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
    bucket = app.config["SCLERO_S3_BUCKET"]
    stray = PREFIX + "exports/export-99-" + "a" * 32 + ".zip"  # a dead worker's upload
    client.put_object(Bucket=bucket, Key=stray, Body=b"PK half")
    foreign = PREFIX + "exports/notes.txt"  # not an export's name: never touched
    client.put_object(Bucket=bucket, Key=foreign, Body=b"kept")
    with open(os.path.join(builder, "export-98-" + "b" * 32 + ".zip.part"), "wb") as f:
        f.write(b"PK half")
    assert in_app(lambda: export.sweep(timedelta(minutes=5))) == 0  # all too young
    time.sleep(1.1)
    assert in_app(lambda: export.sweep(timedelta(seconds=1))) == 2
    left = set(exports_in_bucket(app))
    assert stray not in left and foreign in left and len(left) == 2  # the ready one stays
    assert os.listdir(builder) == []


def test_closing_the_account_removes_its_zips_from_the_bucket(machines, in_app, world):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    in_app(lambda: ask_and_build(world.patient_a))
    assert len(exports_in_bucket(app)) == 1
    names = in_app(lambda: closure_steps.export_zips(world.patient_a))
    in_app(lambda: closure_steps.remove_zips(names))
    assert exports_in_bucket(app) == {}


def test_export_run_with_a_silent_bucket_is_a_message_not_a_traceback(machines, in_app, world):
    app, builder, _ = machines
    app.config["SCLERO_EXPORT_DIR"] = builder
    in_app(lambda: export.request_export(principal_of(world.patient_a), "127.0.0.1", now()))
    endpoint = app.config["SCLERO_S3_ENDPOINT_URL"]
    url, stop = start_silent_server()
    try:
        app.config.update(SCLERO_S3_ENDPOINT_URL=url, SCLERO_S3_TIMEOUT=1.0)
        result = app.test_cli_runner().invoke(args=["export", "run"])
    finally:
        stop()
        app.config.update(SCLERO_S3_ENDPOINT_URL=endpoint, SCLERO_S3_TIMEOUT=5.0)
    assert result.exit_code == 1 and "exports: nothing done" in result.output, result.output
    assert "Traceback" not in result.output
