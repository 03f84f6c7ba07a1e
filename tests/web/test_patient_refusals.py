"""A patient's refused reads of objects that are not theirs (issue 18, checklist E2):
still "not found", now each a security event (clinic, user id, what was asked, no
data); more than 50 in an hour by one account raise one alert an hour, which the
clinic's admins see on the staff page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import PushSubscription
from app.models import Role
from app.models import User
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.services.test_photos import _photo_of

ALICE = "alice@patients.example"
BOB = "bob@patients.example"


def refusals(in_app, action: str = "refused") -> list[tuple]:
    return in_app(
        lambda: [
            (e.clinic_id, e.actor_id, e.patient_id, e.detail)
            for e in db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]
    )


def user_id(in_app, email: str) -> int:
    return in_app(lambda: db.session.scalar(sa.select(User.id).where(User.email == email)))


@pytest.fixture
def alice_photo(app, world, in_app) -> int:
    return _photo_of(app.test_client(), in_app, ALICE)


@pytest.fixture
def bob(app, world):
    client = app.test_client()
    assert login(client, BOB).status_code == 302
    return client


@pytest.mark.parametrize(
    "method, url",
    [
        ("GET", "/patient/photos/{id}"),
        ("GET", "/patient/photos/{id}/image"),
        ("GET", "/patient/photos/{id}/thumb"),
        ("POST", "/patient/photos/{id}/delete"),
    ],
)
def test_another_patients_photo_is_404_and_audited(bob, alice_photo, world, in_app, method, url):
    r = bob.open(url.format(id=alice_photo), method=method, data={"confirm": "yes"})
    assert r.status_code == 404 and b"Alice" not in r.data
    bob_id = user_id(in_app, BOB)
    assert refusals(in_app) == [
        (world.clinic1, bob_id, None, f"patient asked for photo #{alice_photo}")
    ]


def test_an_unknown_photo_is_refused_the_same_way(bob, world, in_app):
    assert bob.get("/patient/photos/987654/image").status_code == 404
    assert refusals(in_app)[0][3] == "patient asked for photo #987654"


def test_the_own_photo_is_no_refusal(app, alice_photo, in_app):
    client = app.test_client()
    login(client, ALICE)
    assert client.get(f"/patient/photos/{alice_photo}").status_code == 200
    assert refusals(in_app) == []


def test_comparing_with_another_patients_photo_is_audited(bob, alice_photo, in_app):
    page = bob.get(f"/patient/photos/compare?a={alice_photo}&b=99999999999999999999")
    assert page.status_code == 200 and f"/{alice_photo}/" not in page.get_data(as_text=True)
    details = [d for *_, d in refusals(in_app)]
    assert f"patient asked for photo #{alice_photo} to compare" in details


def test_another_patients_reminder_device_is_404_and_audited(bob, world, in_app):
    def add():
        sub = PushSubscription(
            patient_id=world.patient_a, endpoint="https://push.example/a", p256dh="x", auth="y"
        )
        db.session.add(sub)
        db.session.commit()
        return sub.id

    sub_id = in_app(add)
    assert bob.post(f"/patient/reminders/devices/{sub_id}/delete").status_code == 404
    assert refusals(in_app)[0][3] == f"patient asked for reminder device #{sub_id}"
    assert in_app(lambda: db.session.get(PushSubscription, sub_id)) is not None


def test_more_than_50_refusals_in_an_hour_raise_one_alert_an_hour(bob, world, in_app, clock):
    for n in range(50):
        assert bob.get(f"/patient/photos/{900000 + n}/thumb").status_code == 404
    assert refusals(in_app, "refusals_alert") == []  # 50 is not abnormal yet
    for n in range(50, 55):
        assert bob.get(f"/patient/photos/{900000 + n}/thumb").status_code == 404
    bob_id = user_id(in_app, BOB)
    assert refusals(in_app, "refusals_alert") == [
        (world.clinic1, bob_id, None, "51 refused reads in an hour: records that are not theirs")
    ]
    # An hour on (never idle for 30 minutes), still going: one more alert, not 50.
    for _ in range(3):
        clock.advance(minutes=21)
        bob.get("/patient/photos/1/thumb")
    for n in range(55):
        bob.get(f"/patient/photos/{800000 + n}/thumb")
    assert len(refusals(in_app, "refusals_alert")) == 2


def test_admins_see_this_weeks_alerts_on_the_staff_page(app, bob, world, in_app, clock):
    def admin():
        make_staff(db.session.get(Clinic, world.clinic1), "admin@north.example", Role.CLINIC_ADMIN)

    in_app(admin)
    client = app.test_client()
    login(client, "admin@north.example")
    assert "alert this week" not in text_of(client.get("/clinic/staff"))
    for n in range(60):
        bob.get(f"/patient/photos/{900000 + n}/image")
    login(client, "admin@north.example")
    text = text_of(client.get("/clinic/staff"))
    assert (
        "1 alert this week: a patient account asked for up to 51 records in an hour "
        "that are not theirs." in text
    )
    # Another clinic's admin sees nothing of it.
    other = app.test_client()
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic2), "admin@south.example", Role.CLINIC_ADMIN
        )
    )
    login(other, "admin@south.example")
    assert "alert this week" not in text_of(other.get("/clinic/staff"))
    # A week on, it is gone from the page (still in the audit log).
    clock.advance(days=7, minutes=1)
    login(client, "admin@north.example")
    assert "alert this week" not in text_of(client.get("/clinic/staff"))
    assert len(refusals(in_app, "refusals_alert")) == 1


def test_refusals_count_per_account_not_per_clinic(app, world, in_app):
    # 30 by Alice and 30 by Bob, both of clinic 1: nobody crossed the line alone.
    for email in (ALICE, BOB):
        client = app.test_client()
        login(client, email)
        for n in range(30):
            client.get(f"/patient/photos/{700000 + n}/thumb")
    assert len(refusals(in_app)) == 60
    assert refusals(in_app, "refusals_alert") == []
