"""A clinic comment is stored once per form load, and one sent after the idle sign-out
is held for its author (app/services/review/comments.py, app/clinician/held.py;
adversarial review 2026-12-07)."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Comment
from app.models import OutboxMessage
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.web.test_staff_races import _at_once

TEXT = "Please keep stockings on until Thursday evening, then daytime only."


def _comments(in_app) -> list[str]:  # noqa: ANN001
    return in_app(lambda: list(db.session.scalars(sa.select(Comment.body).order_by(Comment.id))))


def test_a_double_tap_or_a_resend_stores_the_comment_once(client, world, in_app):
    login(client, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/comments"
    page = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert 'name="client_key"' in page and "data-client-key" in page
    outbox_before = in_app(lambda: db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))))
    for _ in range(3):
        r = client.post(url, data={"body": TEXT, "client_key": "load-1"})
        assert r.status_code == 303
    assert _comments(in_app) == [TEXT]
    outbox_after = in_app(lambda: db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))))
    assert outbox_after - outbox_before <= 1  # one notification at most, not three
    # Other words under the same key (a page restored with its key, the text changed)
    # are a new comment, never lost behind the first one.
    client.post(url, data={"body": "Also: walk every day.", "client_key": "load-1"})
    assert _comments(in_app) == [TEXT, "Also: walk every day."]
    client.post(url, data={"body": "Also: walk every day.", "client_key": "load-1"})
    assert len(_comments(in_app)) == 2  # and its own double tap is stored once
    # Another form load is another comment, even with the same words.
    client.post(url, data={"body": TEXT, "client_key": "load-2"})
    assert _comments(in_app) == [TEXT, "Also: walk every day.", TEXT]


def test_two_posts_of_one_form_at_the_same_moment_store_one_comment(app, world, in_app):
    url = f"/clinic/patients/{world.patient_a}/comments"
    clients = [app.test_client() for _ in range(2)]
    for c in clients:
        login(c, "doc1@north.example")
    statuses = _at_once(lambda i: clients[i].post(url, data={"body": TEXT, "client_key": "k"}))
    assert [s.status_code for s in statuses] == [303, 303]
    assert _comments(in_app) == [TEXT]


def test_another_patients_key_is_not_a_replay(client, world, in_app):
    login(client, "doc1@north.example")
    client.post(
        f"/clinic/patients/{world.patient_a}/comments", data={"body": "A", "client_key": "k"}
    )
    client.post(
        f"/clinic/patients/{world.patient_b}/comments", data={"body": "B", "client_key": "k"}
    )
    assert _comments(in_app) == ["A", "B"]


def test_a_comment_sent_after_the_idle_sign_out_comes_back_in_the_box(client, world, in_app, clock):
    login(client, "doc1@north.example")
    client.get(f"/clinic/patients/{world.patient_a}")
    clock.advance(minutes=16)  # past SCLERO_CLINICIAN_IDLE (15 minutes)
    url = f"/clinic/patients/{world.patient_a}/comments"
    sent = client.post(url, data={"body": TEXT, "client_key": "late"})
    assert sent.status_code == 303 and "/login?next=" in sent.headers["Location"]
    assert _comments(in_app) == []
    assert "your comment was not added" in text_of(client.get(sent.headers["Location"]))
    login(client, "doc1@north.example")
    # Another patient's page does not take it; this patient's page shows it, once.
    assert TEXT not in client.get(f"/clinic/patients/{world.patient_b}").get_data(as_text=True)
    page = client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert f">{TEXT}</textarea>" in page
    assert TEXT not in client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert _comments(in_app) == []  # not posted for them


def test_another_clinician_signing_in_never_sees_the_draft(client, world, in_app, clock):
    login(client, "doc1@north.example")
    clock.advance(minutes=16)
    client.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": TEXT})
    in_app(lambda: make_staff(db.session.get(Clinic, world.clinic1), "nurse1@north.example"))
    login(client, "nurse1@north.example")
    assert TEXT not in client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    login(client, "doc1@north.example")
    assert TEXT not in client.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
