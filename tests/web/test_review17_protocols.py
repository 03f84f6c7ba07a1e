"""Review of protocol sign-off (issue 17 point 3), tried the way the world will: a
version posted by hand that is older than the one signed off, another clinic's, or
unsigned; odd bytes and numbers in every URL part.

Decision on an older signed-off version: once a newer version of the same protocol is
signed off, it is the clinic's approved aftercare for new treatments. The older one
stays valid only for the patients already on it ("patients keep the version they were
treated on"): their next session may be booked on it, and their booking form offers it
first. A new patient, or a patient on another version, cannot be given it by a hand-made
post.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Treatment
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_protocol_signoff import ADMIN
from tests.web.test_protocol_signoff import CONFIRM
from tests.web.test_protocol_signoff import _new_patient
from tests.web.test_protocol_signoff import _version
from tests.web.test_protocol_signoff import v2  # noqa: F401 - a fixture

DOC1 = "doc1@north.example"


@pytest.fixture
def signed_v2(client, world, v2):  # noqa: F811 - the fixture above
    """Version 2 signed off by the clinic admin; the client is left signed in as DOC1."""
    login(client, ADMIN)
    assert client.post(f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM).status_code == 303
    login(client, DOC1)
    return v2


def _treatments(in_app, patient_id: int) -> list[int]:
    return in_app(
        lambda: list(
            db.session.scalars(
                sa.select(Treatment.protocol_version_id)
                .where(Treatment.patient_id == patient_id)
                .order_by(Treatment.id)
            )
        )
    )


def _book(client, patient_id: int, version: int | str):
    return client.post(
        f"/clinic/patients/{patient_id}/sessions",
        # Booked twice on one date: inside the minimum interval, confirmed.
        data={"date": "2026-12-20", "time": "10:00", "protocol": str(version), "confirm_soon": "y"},
        follow_redirects=True,
    )


def test_a_new_patient_cannot_be_given_a_replaced_version_by_hand(client, world, in_app, signed_v2):
    v1 = in_app(lambda: _version(world.clinic1, 1))
    r = _new_patient(client, v1)
    assert r.status_code == 400
    assert "version 1 has been replaced by version 2" in text_of(r)
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Treatment))) == 3
    assert (
        _new_patient(client, signed_v2).status_code == 200
    )  # created: the new patient's page, with the link


def test_a_patient_on_the_older_version_keeps_it_for_their_next_session(
    client, world, in_app, signed_v2
):
    v1 = in_app(lambda: _version(world.clinic1, 1))
    # The booking form offers their own version first (the one a browser selects).
    html = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    book = html.split("Book another session")[1]
    assert book.index(f'value="{v1}"') < book.index(f'value="{signed_v2}"')
    r = _book(client, world.patient_a, v1)
    assert "Session booked." in text_of(r)
    assert _treatments(in_app, world.patient_a) == [v1, v1]
    # Moving them on to the new version is a deliberate choice, and allowed.
    assert "Session booked." in text_of(_book(client, world.patient_a, signed_v2))


def test_a_patient_on_the_new_version_cannot_be_booked_on_the_replaced_one(
    client, world, in_app, signed_v2
):
    v1 = in_app(lambda: _version(world.clinic1, 1))
    assert (
        _new_patient(client, signed_v2).status_code == 200
    )  # created: the new patient's page, with the link
    dana = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.patient_id).where(Treatment.protocol_version_id == signed_v2)
        )
    )
    r = _book(client, dana, v1)
    assert "version 1 has been replaced by version 2" in text_of(r)
    assert _treatments(in_app, dana) == [signed_v2]


def test_booking_with_another_clinics_version_or_a_bad_number_books_nothing(
    client, world, in_app, signed_v2
):
    theirs = in_app(lambda: _version(world.clinic2, 1))
    for posted in (theirs, -1, 0, 2**31, 2**63, "1e3", "", "\x00"):
        r = _book(client, world.patient_a, posted)
        assert r.status_code == 400, posted  # the booking form, shown again
        assert "Session booked." not in text_of(r), posted
    assert len(_treatments(in_app, world.patient_a)) == 1
