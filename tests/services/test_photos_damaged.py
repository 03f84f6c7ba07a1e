"""A photo whose stored file is missing or altered, on either store (the local folder
and S3 through a real endpoint on loopback): the patient's and the clinician's image
and thumbnail addresses give a handled 404, never a 500 and never the altered bytes; an
<img> gets a placeholder picture, a page opened in a tab a plain page saying what
happened; the photo's id is logged at ERROR and ``flask photos verify`` lists it.
"""

from __future__ import annotations

import logging
import os

import pytest

from app.adapters.photo_store_s3 import make_client
from app.extensions import db
from app.models import Photo
from app.services.photos import storage
from tests.conftest import login
from tests.services.test_photos import ALICE
from tests.services.test_photos import CARA
from tests.services.test_photos import DOC1
from tests.services.test_photos import DOC2
from tests.services.test_photos import _photo_of

ALTERED = b"<script>alert(1)</script>"
# What browsers send: an <img> asks for images first, a tab for HTML first.
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
TAB_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(params=["local", "s3"])
def store_app(request, app):
    """The app with its photos in the local folder, then in a bucket."""
    return request.getfixturevalue("s3_app") if request.param == "s3" else app


def spoil(app, in_app, pid: int, how: str) -> None:  # noqa: ANN001
    """Delete (``missing``) or append to (``altered``) both stored files of a photo."""

    def keys() -> list[str]:
        row = db.session.get(Photo, pid)
        names = [row.full_key, row.thumb_key]
        if app.config.get("SCLERO_PHOTO_STORE") == "s3":
            return [storage.s3_store().name(key) for key in names]
        return [storage.store().path(key) for key in names]

    if app.config.get("SCLERO_PHOTO_STORE") == "s3":
        client = make_client(app.config["SCLERO_S3_ENDPOINT_URL"], "us-east-1")
        bucket = app.config["SCLERO_S3_BUCKET"]
        for name in in_app(keys):
            if how == "missing":
                client.delete_object(Bucket=bucket, Key=name)
            else:
                body = client.get_object(Bucket=bucket, Key=name)["Body"].read()
                client.put_object(Bucket=bucket, Key=name, Body=body + ALTERED)
        return
    for path in in_app(keys):
        if how == "missing":
            os.remove(path)
        else:
            with open(path, "ab") as f:
                f.write(ALTERED)


def assert_handled(response, pid: int, caplog) -> None:  # noqa: ANN001
    """The <img> answer: a 404 placeholder picture, private and never stored."""
    assert response.status_code == 404, response.status_code
    assert response.mimetype == "image/svg+xml"
    assert response.data.startswith(b"<svg") and b"<title>" in response.data
    assert ALTERED not in response.data and b"alert(1)" not in response.data
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"photo #{pid}:" in r.getMessage() for r in logged)
    assert not any("unhandled error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("how", ["missing", "altered"])
def test_the_patients_image_and_thumb_are_a_handled_404(
    store_app, world, in_app, runner, caplog, how
):
    pid = _photo_of(store_app.test_client(), in_app, ALICE)
    spoil(store_app, in_app, pid, how)
    alice = store_app.test_client()
    login(alice, ALICE)
    for kind in ("image", "thumb"):
        caplog.clear()
        r = alice.get(f"/patient/photos/{pid}/{kind}", headers={"Accept": IMG_ACCEPT})
        assert_handled(r, pid, caplog)
    # Opened in a tab: the plain page, in words, still a 404.
    page = alice.get(f"/patient/photos/{pid}/image", headers={"Accept": TAB_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "This photo&#39;s file is damaged or missing." in text
    assert "alert(1)" not in text
    # The photo's own page still opens (it links the image; it does not read the file).
    assert alice.get(f"/patient/photos/{pid}").status_code == 200
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output


@pytest.mark.parametrize("how", ["missing", "altered"])
def test_the_clinicians_image_and_thumb_are_a_handled_404(
    store_app, world, in_app, runner, caplog, how
):
    pid = _photo_of(store_app.test_client(), in_app, ALICE)
    spoil(store_app, in_app, pid, how)
    doctor = store_app.test_client()
    login(doctor, DOC1)
    for kind in ("image", "thumb"):
        caplog.clear()
        r = doctor.get(f"/clinic/photos/{pid}/{kind}", headers={"Accept": IMG_ACCEPT})
        assert_handled(r, pid, caplog)
    page = doctor.get(f"/clinic/photos/{pid}/image", headers={"Accept": TAB_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "damaged or missing" in page.get_data(as_text=True)
    result = runner.invoke(args=["photos", "verify"])
    assert result.exit_code == 1 and str(pid) in result.output


def test_someone_elses_damaged_photo_is_the_plain_not_found(app, world, in_app):
    # The damage is told only to those who may see the photo: to anyone else it is the
    # same 404 as a photo that does not exist.
    pid = _photo_of(app.test_client(), in_app, ALICE)
    spoil(app, in_app, pid, "missing")
    cara, doc2 = app.test_client(), app.test_client()
    login(cara, CARA)
    login(doc2, DOC2)
    for client, url in ((cara, "/patient/photos/{}/image"), (doc2, "/clinic/photos/{}/image")):
        damaged = client.get(url.format(pid), headers={"Accept": TAB_ACCEPT})
        unknown = client.get(url.format(pid + 1000), headers={"Accept": TAB_ACCEPT})
        assert damaged.status_code == unknown.status_code == 404
        assert damaged.mimetype == unknown.mimetype == "text/html"
        assert "damaged" not in damaged.get_data(as_text=True)
        assert "Page not found" in damaged.get_data(as_text=True)
