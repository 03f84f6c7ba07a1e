"""'Download my data' with the photos in S3 (a real endpoint on loopback): an object
that is gone or altered is left out of the zip and named in it; a bucket that does not
answer is an outage, not damage, so the build fails and is tried again later.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from app.adapters.photo_store_s3 import make_client
from app.clock import now
from app.extensions import db
from app.models import ExportJob
from app.models import ExportState
from app.models import Photo
from app.services import export
from app.services.export import worker
from app.services.photos import storage
from tests.s3_server import start_silent_server
from tests.services.test_export import ask_and_build
from tests.services.test_export import media_of
from tests.services.test_export import principal_of
from tests.services.test_export import seed_diary


@pytest.fixture
def bucket_app(s3_app, tmp_path):
    s3_app.config["SCLERO_EXPORT_DIR"] = str(tmp_path / "builder")
    return s3_app


def _zip_contents(job_id: int) -> dict:
    data = b"".join(export.take_download(principal_of_job(job_id), job_id, "127.0.0.1", now()))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        return {
            "photos": [zf.read(n) for n in names if n.startswith("photos/")],
            "data": json.loads(zf.read("data.json")),
            "bundle": json.loads(zf.read("fhir/bundle.json")),
        }


def principal_of_job(job_id: int):  # noqa: ANN201
    return principal_of(db.session.get(ExportJob, job_id).patient_id)


@pytest.mark.parametrize("how", ["missing", "altered"])
def test_an_object_gone_or_altered_is_left_out_and_the_rest_is_built(
    bucket_app, in_app, world, how
):
    def run():
        seed_diary(world.patient_a, photos=3)
        db.session.commit()
        spoiled = db.session.scalars(sa.select(Photo).order_by(Photo.id)).all()[1]
        client = make_client(bucket_app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
        bucket, name = (
            bucket_app.config["SCLERO_S3_BUCKET"],
            storage.s3_store().name(spoiled.full_key),
        )
        if how == "missing":
            client.delete_object(Bucket=bucket, Key=name)
        else:
            body = client.get_object(Bucket=bucket, Key=name)["Body"].read()
            client.put_object(Bucket=bucket, Key=name, Body=b"X" * len(body))
        job_id = ask_and_build(world.patient_a)
        return job_id, spoiled.id, db.session.get(ExportJob, job_id).state

    job_id, photo_id, state = in_app(run)
    assert state == ExportState.READY
    out = in_app(_zip_contents, job_id)
    assert len(out["photos"]) == 2
    assert not any(set(p) == {ord("X")} for p in out["photos"])
    [note] = out["data"]["photos_not_included"]
    assert note["id"] == photo_id
    word = "could not be found" if how == "missing" else "has changed"
    assert word in note["reason"]
    assert len(media_of(out["bundle"])) == 2
    assert f"Media/{photo_id}" not in json.dumps(out["bundle"])


def test_a_silent_bucket_still_fails_the_build_and_it_is_tried_again(bucket_app, in_app, world):
    def seed():
        seed_diary(world.patient_a, photos=1)
        db.session.commit()
        return export.request_export(principal_of(world.patient_a), "127.0.0.1", now()).id

    job_id = in_app(seed)
    endpoint = bucket_app.config["SCLERO_S3_ENDPOINT_URL"]
    url, stop = start_silent_server()
    try:
        bucket_app.config.update(SCLERO_S3_ENDPOINT_URL=url, SCLERO_S3_TIMEOUT=1.0)

        def build_once() -> bool:
            # claim and build as run_due does, without its sweep of old zips, which
            # asks the silent bucket first and is not what this test is about.
            return worker.build(worker.claim(now()), now)

        assert in_app(build_once) is False
    finally:
        stop()
        bucket_app.config.update(SCLERO_S3_ENDPOINT_URL=endpoint, SCLERO_S3_TIMEOUT=5.0)

    def job():
        row = db.session.get(ExportJob, job_id)
        return row.state, row.last_error, row.attempts

    # Back to pending for another try (an outage), not built without its photos.
    assert in_app(job) == (ExportState.PENDING, "StorageUnavailable", 1)
