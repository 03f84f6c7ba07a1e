"""A clinician's "Mark reviewed" covers only what their page showed (issues 14 and 15).

The clinician opens a patient's diary; meanwhile the patient changes today's answers or
sends a new photo from the phone. Pressing "Mark day reviewed" or "Mark photos
reviewed" on the page now out of date must not mark the new answers or the new photo as
seen: they would drop off the review queue unseen. The forms are posted exactly as the
browser would post them, hidden fields included.
"""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from app.extensions import db
from app.models import CheckIn
from app.models import Photo
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_checkin import form


def _form_fields(html: str, action_part: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form whose action contains the text."""
    for found in re.finditer(r'<form method="post" action="([^"]+)">(.*?)</form>', html, re.S):
        if action_part in found.group(1):
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', found.group(2)))
            return unescape(found.group(1)), {k: unescape(v) for k, v in fields.items()}
    raise AssertionError(f"no form posting to {action_part}")


def _clients(app):
    alice, doc = app.test_client(), app.test_client()
    login(alice, "alice@patients.example")
    login(doc, "doc1@north.example")
    return alice, doc


def test_an_edit_after_the_page_was_opened_is_not_marked_reviewed(app, world, in_app, clock):
    alice, doc = _clients(app)
    alice.post("/patient/checkin", data=form())
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    action, fields = _form_fields(page, "/review")

    clock.advance(minutes=5)
    alice.post("/patient/checkin", data=form(lumps="yes", pain="6", note="New hard lump"))
    r = doc.post(action, data=fields)

    assert r.status_code == 303
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.reviewed_at))) is None
    after = text_of(doc.get(r.headers["Location"]))
    assert "changed" in after.lower() and "New hard lump" in after


def test_marking_the_day_reviewed_on_an_unchanged_page_still_works(app, world, in_app):
    alice, doc = _clients(app)
    alice.post("/patient/checkin", data=form())
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    action, fields = _form_fields(page, "/review")
    assert doc.post(action, data=fields).status_code == 303
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.reviewed_at))) is not None


def _photos_reviewed(in_app) -> list[bool]:
    rows = in_app(lambda: db.session.execute(sa.select(Photo.id, Photo.reviewed_at)).all())
    return [at is not None for _, at in sorted(rows)]


def test_a_photo_sent_after_the_page_was_opened_is_not_marked_with_the_day(app, world, in_app):
    alice, doc = _clients(app)
    alice.post("/patient/checkin", data=form())
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    action, fields = _form_fields(page, "/checkins/")

    assert upload(alice, phone_jpeg((300, 400))).status_code == 303  # the new one
    doc.post(action, data=fields)

    # The photo on the page is seen; the one sent afterwards still waits for a look.
    assert _photos_reviewed(in_app) == [True, False]


def test_a_photo_sent_after_the_page_was_opened_is_not_marked_with_the_photos(app, world, in_app):
    alice, doc = _clients(app)
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    action, fields = _form_fields(page, "/photos/review")

    assert upload(alice, phone_jpeg((300, 400))).status_code == 303
    doc.post(action, data=fields)

    assert _photos_reviewed(in_app) == [True, False]
