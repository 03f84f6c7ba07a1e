"""The clinician's review forms carry the ids of the photos the page showed
("photos", comma-separated). A list holding a number past the database's INTEGER
range, or a run of thousands of digits, answered 500: ``int()`` refuses more than
4,300 digits, and SQLite and PostgreSQL refuse an id past their range (adversarial
review, 2026-12-08). Such tokens cannot be a photo's id and are ignored like any other
junk in the list; the ids that are real still count.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Photo
from tests.conftest import login
from tests.web.test_access_matrix import _alices_objects

JUNK = ["9" * 5000, "99999999999999999999", "1," * 100 + "9" * 23, "-5,0,2147483648"]


@pytest.mark.parametrize("photos", JUNK)
def test_junk_in_the_photo_list_is_no_500(client, world, in_app, photos):
    objs = in_app(_alices_objects, world.patient_a)
    login(client, "doc1@north.example")
    r = client.post(
        f"/clinic/checkins/{objs['checkin']}/review", data={"seen": "", "photos": photos}
    )
    assert r.status_code in (303, 400, 409), r.status_code
    r = client.post(
        f"/clinic/patients/{world.patient_a}/photos/review",
        data={"on": "2026-11-20", "photos": photos},
    )
    assert r.status_code in (303, 400, 409), r.status_code


def test_a_real_id_beside_the_junk_still_counts(client, world, in_app):
    objs = in_app(_alices_objects, world.patient_a)

    def photo_day():
        p = db.session.get(Photo, objs["photo"])
        return p.taken_on.isoformat(), p.reviewed_at

    on, reviewed = in_app(photo_day)
    assert reviewed is None
    login(client, "doc1@north.example")
    r = client.post(
        f"/clinic/patients/{world.patient_a}/photos/review",
        data={"on": on, "photos": f"{'9' * 5000},{objs['photo']},99999999999999999999"},
    )
    assert r.status_code == 303
    assert (
        in_app(
            lambda: db.session.scalar(sa.select(Photo.reviewed_at).where(Photo.id == objs["photo"]))
        )
        is not None
    )
