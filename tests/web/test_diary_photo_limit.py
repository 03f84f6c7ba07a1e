"""A patient who sends many photos a day (issue 22 point 5): the clinician's diary shows
a few thumbnails a day (``DAY_PHOTOS``, the new ones first) and links to the day's photo
page for the rest, so the page stays light with 200 photos.

"Mark photos reviewed" and "Mark day reviewed" mark only the photos the page showed: a
photo the clinician was never shown stays new (it is listed on the dashboard until
someone looks at it), and the day's photo page marks the new ones it shows.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.photos import fit_box
from app.extensions import db
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from app.models import Photo
from app.services.review.patient_record import DAY_PHOTOS
from tests.conftest import make_patient
from tests.web.test_dashboard_scale import _same_count
from tests.web.test_dashboard_scale import _statements
from tests.web.test_diary_days import add_days
from tests.web.test_review_coverage import staff

THUMB = re.compile(r'<img src="/clinic/photos/(\d+)/thumb\?s=\w+"[^>]*>')


def add_photos(patient_id: int, on: date, count: int, first: int = 0) -> list[int]:
    """``count`` photos taken a minute apart from noon on the patient's date ``on`` (no
    file behind them: the diary links to them and never reads them), oldest first;
    portrait and landscape in turn. :returns: their ids, oldest first."""
    patient = db.session.get(Patient, patient_id)
    start = datetime.combine(on, time(12), ZoneInfo(patient.timezone))
    rows = []
    for n in range(first, first + count):
        at = start + timedelta(minutes=n)
        rows.append(
            Photo(
                patient_id=patient.id,
                clinic_id=patient.clinic_id,
                phase="before",
                taken_at=at,
                taken_on=on,
                side="left",
                region="calf",
                view="inner",
                full_key=f"full-{patient.id}-{on}-{n}",
                full_sha256="0" * 64,
                full_size=1,
                thumb_key=f"thumb-{patient.id}-{on}-{n}",
                thumb_sha256="0" * 64,
                width=3000 if n % 2 else 2000,
                height=2000 if n % 2 else 3000,
                source_format="jpeg",
                created_at=at,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def _patient(world, email: str) -> int:
    clinic = db.session.get(Clinic, world.clinic1)
    return make_patient(clinic, email, day=30).id


def _hidden(html: str, name: str, after: str) -> str:
    """The value of the first hidden field ``name`` after the text ``after``."""
    start = html.index(after)
    return re.search(rf'name="{name}" value="([^"]*)"', html[start:]).group(1)


def _new(ids: list[int]) -> set[int]:
    """Which of ``ids`` no clinician has marked reviewed."""
    return set(
        db.session.scalars(
            sa.select(Photo.id).where(Photo.id.in_(ids), Photo.reviewed_at.is_(None))
        )
    )


def test_a_patient_with_200_photos_has_a_bounded_diary_page(app, world, in_app):
    day = date(2026, 11, 1)

    def build():
        few, many = (
            _patient(world, "few@patients.example"),
            _patient(world, "many@patients.example"),
        )
        add_photos(few, day, 1)
        for n in range(20):  # ten a day over twenty days, as `make audit`'s day20@
            add_photos(many, day + timedelta(days=n), 10)
        return few, many

    few, many = in_app(build)
    doc = staff(app)
    html = doc.get(f"/clinic/patients/{many}").get_data(as_text=True)
    thumbs = THUMB.findall(html)
    assert len(thumbs) == 20 * DAY_PHOTOS < 200
    assert html.count("<img") == len(thumbs)  # no other image on the page
    for tag in (m.group(0) for m in THUMB.finditer(html)):
        # Lazy, and a reserved box in the 96 px slot: portrait 64x96, landscape 96x64.
        assert 'loading="lazy"' in tag and 'decoding="async"' in tag, tag
        assert ('width="64" height="96"' in tag) or ('width="96" height="64"' in tag), tag
    assert html.count(">See all 10 photos from ") == 20
    link = f'href="/clinic/patients/{many}/photos?on=2026-11-20"'
    assert link in html
    # The day's photo page has them all (one day: 10 photos, one page).
    day_page = doc.get(f"/clinic/patients/{many}/photos?on=2026-11-20").get_data(as_text=True)
    assert "Only the photos of" in day_page and day_page.count('<li id="photo-') == 10
    # The page costs the same statements with one photo as with 200.
    _same_count(
        _statements(app, doc, f"/clinic/patients/{few}"),
        _statements(app, doc, f"/clinic/patients/{many}"),
        "patient page, 1 photo and 200",
    )


def test_mark_photos_reviewed_leaves_a_photo_it_did_not_show_new(app, world, in_app):
    on = date(2026, 11, 20)

    def build():
        patient = _patient(world, "six@patients.example")
        return patient, add_photos(patient, on, DAY_PHOTOS + 2)

    patient, ids = in_app(build)
    doc = staff(app)
    page = f"/clinic/patients/{patient}"
    html = doc.get(page).get_data(as_text=True)
    shown = [int(i) for i in THUMB.findall(html)]
    assert shown == ids[2:]  # the newest four, oldest first
    assert "2 more new photos are not shown here" in html
    # The button posts what the page shows, and marks only that.
    posted = _hidden(html, "photos", 'name="on"')
    assert posted == ",".join(map(str, shown))
    r = doc.post(f"{page}/photos/review", data={"on": on.isoformat(), "photos": posted})
    assert r.status_code == 303
    assert in_app(_new, ids) == set(ids[:2])  # never shown: still new
    # Now the page shows those two (new ones first), and then marks them.
    html = doc.get(page).get_data(as_text=True)
    assert [int(i) for i in THUMB.findall(html)] == ids[:2] + ids[4:]
    assert "more new photo" not in html and "Mark photos reviewed" in html
    posted = _hidden(html, "photos", 'name="on"')
    doc.post(f"{page}/photos/review", data={"on": on.isoformat(), "photos": posted})
    assert in_app(_new, ids) == set()


def test_mark_day_reviewed_marks_only_the_photos_shown_with_the_day(app, world, in_app):
    def build():
        patient = _patient(world, "checked@patients.example")
        start, made = add_days(patient, checkins=[3])
        return patient, made[3], add_photos(patient, start + timedelta(days=3), DAY_PHOTOS + 1)

    patient, checkin_id, ids = in_app(build)
    doc = staff(app)
    html = doc.get(f"/clinic/patients/{patient}").get_data(as_text=True)
    form = html[html.index(f'action="/clinic/checkins/{checkin_id}/review"') :]
    data = {name: _hidden(form, name, "") for name in ("seen", "photos")}
    assert data["photos"] == ",".join(map(str, ids[1:]))
    doc.post(f"/clinic/checkins/{checkin_id}/review", data=data)
    assert in_app(lambda: db.session.get(CheckIn, checkin_id).reviewed_at) is not None
    assert in_app(_new, ids) == {ids[0]}  # the oldest was never on the page
    html = doc.get(f"/clinic/patients/{patient}").get_data(as_text=True)
    assert "Mark photos reviewed" in html  # it waits there, shown now


def test_the_days_photo_page_marks_the_new_photos_it_shows(app, world, in_app):
    on = date(2026, 11, 20)

    def build():
        patient = _patient(world, "many@patients.example")
        other_day = add_photos(patient, on - timedelta(days=1), 3)
        return patient, add_photos(patient, on, 45), other_day

    patient, ids, other_day = in_app(build)
    doc = staff(app)
    url = f"/clinic/patients/{patient}/photos?on={on.isoformat()}"
    html = doc.get(url).get_data(as_text=True)
    assert html.count('<li id="photo-') == 40  # a page: the newest 40 of the day
    assert "Mark the 40 new photos on this page reviewed" in html
    posted = _hidden(html, "photos", 'name="on"')
    r = doc.post(
        f"/clinic/patients/{patient}/photos/review",
        data={"on": on.isoformat(), "photos": posted, "back": "photos", "page": "1"},
    )
    assert r.headers["Location"].endswith(url)
    # The five on the next page, and the other day's, were not shown: still new.
    assert in_app(_new, ids + other_day) == set(ids[:5] + other_day)
    assert "new photos on this page" not in doc.get(url).get_data(as_text=True)


def test_fit_box_scales_down_into_the_slot_never_up():
    assert fit_box(3000, 2000, 96) == (96, 64)
    assert fit_box(2000, 3000, 96) == (64, 96)
    assert fit_box(50, 40, 96) == (50, 40)
    assert fit_box(5000, 1, 96) == (96, 1)


def test_the_photo_page_of_every_day_marks_the_new_photos_it_shows(app, world, in_app):
    """The unfiltered photo page (every day, 40 a page) has the same button: it marks
    the new photos of every day it shows, and not those on the next page."""
    on = date(2026, 11, 20)

    def build():
        patient = _patient(world, "everyday@patients.example")
        older = add_photos(patient, on - timedelta(days=1), 5)
        return patient, older, add_photos(patient, on, 38)

    patient, older, newer = in_app(build)
    doc = staff(app)
    url = f"/clinic/patients/{patient}/photos"
    html = doc.get(url).get_data(as_text=True)
    assert html.count('<li id="photo-') == 40  # 38 of the 20th and 2 of the 19th
    assert "Mark the 40 new photos on this page reviewed" in html
    posted = _hidden(html, "photos", 'name="on"')
    r = doc.post(
        f"/clinic/patients/{patient}/photos/review",
        data={"on": "", "photos": posted, "back": "photos", "page": "1"},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(url)
    assert in_app(_new, older + newer) == set(older[:3])  # the next page's three
    html = doc.get(url).get_data(as_text=True)
    assert "new photos on this page" not in html and "new photo on this page" not in html
    # Another patient's photo id in the list is not marked (the patient's own only).
    other = in_app(lambda: add_photos(_patient(world, "other@patients.example"), on, 1))
    doc.post(
        f"/clinic/patients/{patient}/photos/review",
        data={"on": "", "photos": ",".join(map(str, other + older)), "back": "photos"},
    )
    assert in_app(_new, other + older) == set(other)


def test_no_day_and_no_list_of_photos_is_still_refused(app, world, in_app):
    patient = in_app(lambda: _patient(world, "noday@patients.example"))
    r = staff(app).post(f"/clinic/patients/{patient}/photos/review", data={"on": ""})
    assert r.status_code == 400
