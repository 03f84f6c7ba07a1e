"""The optional photo of the daily check-in: stored with it once, and never at the cost
of the answers. A refused, broken, over-large or unstorable photo leaves the check-in
saved and triaged, with a plain message about the photo; refused answers keep a good
photo, so the patient need not choose it again.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Photo
from app.services.photos import storage
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import stored_files
from tests.web.test_checkin import form

SITE = {"side": "left", "region": "calf", "view": "inner"}


BOUNDARY = "x-checkin-boundary"


def multipart(fields: dict, data: bytes | None, filename: str = "leg.jpg") -> bytes:
    """A multipart body encoded here: the test client spools big bodies to a file it
    never closes."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, values in fields.items()
        for v in (values if isinstance(values, list) else [values])
    ]
    if data is not None:
        parts += [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            data,
            b"\r\n",
        ]
    return b"".join([*parts, f"--{BOUNDARY}--\r\n".encode()])


def send(client, data: bytes | None, *, path="/patient/checkin", **fields):
    """The check-in form as the page posts it (multipart), with or without a photo."""
    body = multipart(form(**fields) if path == "/patient/checkin" else fields, data)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}")


def rows(in_app) -> tuple[int, int]:
    return in_app(lambda: (count(CheckIn), count(Photo)))


def test_a_photo_sent_with_the_check_in_is_stored_once_and_shown_to_the_clinic(
    app, client, world, in_app
):
    login(client, "alice@patients.example")
    r = send(client, phone_jpeg((800, 600)), client_key="k1", **SITE)
    page = text_of(r)
    assert r.status_code == 200 and "your check-in is sent" in page
    assert "Your photo (Left calf, inner side) is saved in your photo diary" in page
    # A double tap or a replay of the same form stores neither twice.
    assert send(client, phone_jpeg((800, 600)), client_key="k1", **SITE).status_code == 200
    assert rows(in_app) == (1, 1)
    photo = in_app(lambda: db.session.scalar(sa.select(Photo)))
    assert photo.client_key == "checkin-k1" and photo.phase == "after" and photo.day == 3
    assert (photo.side, photo.region, photo.view) == ("left", "calf", "inner")
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f'src="/clinic/photos/{photo.id}/thumb?s=' in html


def test_without_a_photo_the_multipart_form_still_checks_in(client, world, in_app):
    login(client, "alice@patients.example")
    r = send(client, None)
    assert r.status_code == 200 and "photo" not in text_of(r).lower()
    assert rows(in_app) == (1, 0)


def test_a_photo_without_its_area_is_refused_but_the_answers_are_saved_and_triaged(
    client, world, in_app
):
    login(client, "alice@patients.example")
    r = send(client, phone_jpeg((400, 300)), yes={"calf-pain-swelling"}, side="left")
    page = text_of(r)
    assert r.status_code == 200
    assert "Please call the clinic today" in page  # the triage comes first, as always
    assert "Your check-in is saved, but the photo is not. Please choose the part of the leg" in page
    assert rows(in_app) == (1, 0)
    assert in_app(lambda: count(Alert)) == 1


def test_a_broken_image_is_refused_on_its_own(app, client, world, in_app):
    login(client, "alice@patients.example")
    r = send(client, b"\xff\xd8\xff\xe0 this is not really a photo", **SITE)
    page = text_of(r)
    assert r.status_code == 200 and "your check-in is sent" in page
    assert "Your check-in is saved, but the photo is not." in page
    assert rows(in_app) == (1, 0)
    assert stored_files(app) == []


def test_a_photo_over_the_limit_is_not_read_and_the_answers_are_kept(app, client, world, in_app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["SCLERO_CHECKIN_MAX_BODY"] = 4 * 1024 * 1024
    login(client, "alice@patients.example")
    big = phone_jpeg((64, 64)) + b"\0" * (2 * 1024 * 1024)  # over the photo limit only
    r = send(client, big, note="sore behind the knee", **SITE)
    page = text_of(r)
    assert r.status_code == 200, page
    assert "That photo is larger than 1 MB. Please choose a smaller one." in page
    assert rows(in_app) == (1, 0)
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.note))) == "sore behind the knee"
    assert stored_files(app) == []
    # The photo page keeps its own, smaller limit for the whole request.
    assert send(client, big, path="/patient/photos", **SITE).status_code == 413


def test_a_body_over_even_the_check_in_limit_says_what_to_do(app, client, world, in_app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["SCLERO_CHECKIN_MAX_BODY"] = 2 * 1024 * 1024
    login(client, "alice@patients.example")
    r = send(client, b"\0" * (3 * 1024 * 1024), **SITE)
    page = text_of(r)
    assert r.status_code == 413
    assert "Your check-in was not sent" in page and "remove the photo" in page
    assert "call your clinic or the emergency number now" in page
    assert rows(in_app) == (0, 0)


def test_refused_answers_keep_a_good_photo(client, world, in_app):
    login(client, "alice@patients.example")
    r = send(client, phone_jpeg((400, 300)), pain="11", note="keep me", **SITE)
    page = text_of(r)
    assert r.status_code == 400
    assert "Nothing you chose or wrote was lost. Your photo is saved." in page
    assert "Your photo (Left calf, inner side) is saved in your photo diary" in page
    assert "keep me" in page
    assert rows(in_app) == (0, 1)
    # Sent again, corrected: the check-in is stored, the photo not a second time.
    assert send(client, None, pain="4").status_code == 200
    assert rows(in_app) == (1, 1)


def test_refused_answers_with_a_refused_photo_keep_its_area_chosen(client, world, in_app):
    login(client, "alice@patients.example")
    r = send(client, b"not a photo", pain="", **SITE)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "The photo was not saved:" in text_of(r)
    assert '<option value="calf" selected>' in html and '<option value="inner" selected>' in html
    assert rows(in_app) == (0, 0)


def test_a_failing_photo_store_never_hides_the_triage(app, client, world, in_app, monkeypatch):
    class Broken:
        def put(self, data):
            raise OSError("disk full")

        def delete(self, key):
            pass

    monkeypatch.setattr(storage, "store", lambda: Broken())
    login(client, "alice@patients.example")
    r = send(client, phone_jpeg((400, 300)), yes={"chest-breathing"}, **SITE)
    page = text_of(r)
    assert r.status_code == 200
    assert page.index("Call 999 now") < page.index("The photo could not be saved just now")
    assert rows(in_app) == (1, 0)
    assert in_app(lambda: count(Alert)) == 1


def test_the_form_offers_the_photo_as_an_optional_part(client, world):
    login(client, "alice@patients.example")
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert f'data-max-bytes="{20 * 1024 * 1024}"' in html
    assert "Add a photo (optional)" in html and 'name="photo"' in html
    assert "/static/js/checkin.js" in html


def test_only_a_signed_in_patient_may_send_the_larger_check_in_body(app, client, world, in_app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["SCLERO_CHECKIN_MAX_BODY"] = 4 * 1024 * 1024
    app.config["WTF_CSRF_ENABLED"] = True  # its check reads the body before any view
    big = phone_jpeg((64, 64)) + b"\0" * (2 * 1024 * 1024)
    assert send(client, big, **SITE).status_code == 413  # not signed in: the usual limit
    login(client, "doc1@north.example")
    assert send(client, big, **SITE).status_code == 413  # staff: the usual limit
    assert rows(in_app) == (0, 0)
