"""A clinician's thumbnail fetched without the page that showed it is audited
(adversarial review, 2026-12-07: walking /clinic/photos/<id>/thumb over ids read every
patient's photo diary of the clinic without one audit event). The pages that show
thumbnails are audited as views, and their links carry a mark (app/web.py
``thumb_signature``) bound to the clinician and the photo, so a page of 200 thumbnails
does not write 200 rows.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Photo
from tests.conftest import login
from tests.conftest import make_staff
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload

THUMB = re.compile(r'src="(/clinic/photos/(\d+)/thumb\?s=\w+)"')


def _thumb_audits(in_app) -> list[str]:
    return in_app(
        lambda: list(
            db.session.scalars(
                sa.select(AuditEvent.detail).where(AuditEvent.detail.like("thumbnail of photo #%"))
            )
        )
    )


def _alice_photo(app, in_app) -> int:
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    return in_app(lambda: db.session.scalar(sa.select(Photo.id)))


def _page_link(app, world, email: str = "doc1@north.example") -> tuple[object, str]:
    doc = app.test_client()
    login(doc, email)
    html = doc.get(f"/clinic/patients/{world.patient_a}/photos").get_data(as_text=True)
    ((url, _),) = THUMB.findall(html)
    return doc, url


def test_thumbnails_from_the_page_are_not_audited_one_by_one(app, world, in_app):
    _alice_photo(app, in_app)
    doc, url = _page_link(app, world)
    r = doc.get(url)
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert _thumb_audits(in_app) == []


def test_a_thumbnail_fetched_by_id_alone_is_audited(app, world, in_app):
    photo = _alice_photo(app, in_app)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert doc.get(f"/clinic/photos/{photo}/thumb").status_code == 200
    forged = doc.get(f"/clinic/photos/{photo}/thumb?s=0123456789abcdef0123")
    assert forged.status_code == 200
    assert _thumb_audits(in_app) == [f"thumbnail of photo #{photo}"] * 2
    who = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent.patient_id).where(AuditEvent.detail.like("thumbnail%"))
        )
    )
    assert who == world.patient_a


def test_another_clinicians_mark_does_not_pass(app, world, in_app):
    """The mark is bound to the clinician: a link copied from a colleague's page is
    audited when someone else opens it."""
    photo = _alice_photo(app, in_app)
    in_app(lambda: make_staff(db.session.get(Clinic, world.clinic1), "colleague@north.example"))
    _, url = _page_link(app, world)
    colleague = app.test_client()
    login(colleague, "colleague@north.example")
    assert colleague.get(url).status_code == 200
    assert _thumb_audits(in_app) == [f"thumbnail of photo #{photo}"]
