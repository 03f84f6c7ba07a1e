"""New photos on the clinician's dashboard until a clinician has looked at them: marked
one by one, or with the check-in of the day they were taken; another clinic: 404."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import CheckIn
from app.models import Photo
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_checkin import form


def _alice_with_a_photo(app, world):
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    doc = app.test_client()
    login(doc, "doc1@north.example")
    return alice, doc


def _reviewed(in_app):
    return in_app(lambda: db.session.scalar(sa.select(Photo.reviewed_at)))


def test_a_new_photo_waits_on_the_dashboard_until_marked_reviewed(app, world, in_app):
    _, doc = _alice_with_a_photo(app, world)
    board = text_of(doc.get("/clinic/"))
    assert "New photos to review 1" in board
    assert "Alice Marker-A Left calf, inner side, day 3" in board
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    r = doc.post(f"/clinic/photos/{photo_id}/review", data={"back": "dashboard"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/clinic/#photos-title")
    board = text_of(doc.get("/clinic/"))
    assert "New photos to review 0" in board and "Left calf, inner side" not in board
    assert _reviewed(in_app) is not None
    actions = in_app(
        lambda: db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.action == "review")
        ).all()
    )
    assert actions == [("review", f"photo #{photo_id}")]
    # Marking it again changes nothing and writes no second record.
    doc.post(f"/clinic/photos/{photo_id}/review")
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "review")
            )
        )
        == 1
    )


def test_reviewing_the_day_reviews_that_days_photos(app, world, in_app):
    alice, doc = _alice_with_a_photo(app, world)
    alice.post("/patient/checkin", data=form())
    checkin_id = in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))
    assert "new" in text_of(doc.get(f"/clinic/patients/{world.patient_a}")).split("Photos")[0]
    doc.post(f"/clinic/checkins/{checkin_id}/review")
    assert _reviewed(in_app) is not None
    assert "New photos to review 0" in text_of(doc.get("/clinic/"))


def test_another_clinic_cannot_mark_a_photo_reviewed(app, world, in_app):
    _alice_with_a_photo(app, world)
    other = app.test_client()
    login(other, "doc2@south.example")
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    assert other.post(f"/clinic/photos/{photo_id}/review").status_code == 404
    assert _reviewed(in_app) is None
    refused = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "refused")
        )
    )
    assert refused == f"review photo #{photo_id}"
    assert "New photos to review 0" in text_of(other.get("/clinic/"))  # not in clinic 2's list


def test_a_day_without_a_check_in_has_its_own_mark_photos_reviewed(app, world, in_app):
    _, doc = _alice_with_a_photo(app, world)
    page = f"/clinic/patients/{world.patient_a}"
    html = doc.get(page).get_data(as_text=True)
    assert "No check-in this day" in html and "Mark photos reviewed" in html
    url = f"/clinic/patients/{world.patient_a}/photos/review"
    assert doc.post(url, data={"on": "not a date"}).status_code == 400
    assert _reviewed(in_app) is None
    r = doc.post(url, data={"on": "2026-11-20", "page": "1"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"{page}#date-2026-11-20")
    assert _reviewed(in_app) is not None
    assert "Mark photos reviewed" not in doc.get(page).get_data(as_text=True)
    assert "New photos to review 0" in text_of(doc.get("/clinic/"))
    details = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "review")
        ).all()
    )
    assert details == ["photos of 2026-11-20"]
    # Another clinic's clinician: 404, whatever the day.
    other = app.test_client()
    login(other, "doc2@south.example")
    assert other.post(url, data={"on": "2026-11-20"}).status_code == 404


def test_a_photo_that_arrives_after_its_day_was_reviewed_can_be_marked_there(
    app, world, in_app, clock
):
    alice = app.test_client()
    login(alice, "alice@patients.example")
    alice.post("/patient/checkin", data=form())
    doc = app.test_client()
    login(doc, "doc1@north.example")
    checkin_id = in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))
    doc.post(f"/clinic/checkins/{checkin_id}/review")
    page = f"/clinic/patients/{world.patient_a}"
    assert "Mark photos reviewed" not in doc.get(page).get_data(as_text=True)
    clock.advance(minutes=30)
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303  # late, same day
    login(doc, "doc1@north.example")  # staff sessions end after 15 idle minutes
    html = doc.get(page).get_data(as_text=True)
    start = html.index(f'<li id="day-{checkin_id}"')
    entry = html[start : html.index("</ol>", start)]  # the diary's only day
    assert "Reviewed" in entry and "Mark photos reviewed" in entry
    assert 'id="date-2026-11-20"' in html  # where the button brings the clinician back
    doc.post(f"{page}/photos/review", data={"on": "2026-11-20"})
    assert _reviewed(in_app) is not None
