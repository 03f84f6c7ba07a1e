"""A patient's invitation or sign-in link can also be emailed (issue 17 points 5 and 6).

The link on the clinician's page and the one in the email are the same link; it goes
through the outbox to a real SMTP server on loopback (tests/smtp_double.py), and the
outbox row forgets it once sent.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import AuditEvent
from app.models import OutboxMessage
from app.services import protocols
from app.services.notify import dispatch
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import text_of
from tests.smtp_double import links_in
from tests.web.test_email_pages import NoPush
from tests.web.test_staff_admin import admin  # noqa: F401, F811 - the fixture


def _link(html: str) -> str:
    match = re.search(r"http://localhost/invite/[A-Za-z0-9_-]{40,}", html)
    assert match, "the link is on the page"
    return match.group(0)


def _send(in_app) -> None:
    in_app(dispatch.run_until_empty, NoPush(), advancing(NOW))


def _new_patient(client, in_app, world, **extra):
    vid = in_app(
        lambda: next(
            v.id for v in protocols.latest_for_clinic(world.clinic1) if v.key == "compression-72h"
        )
    )
    data = {
        "name": "Dora New",
        "email": "dora@patients.example",
        "timezone": "Europe/London",
        "date": "2026-11-25",
        "time": "10:00",
        "protocol": str(vid),
        **extra,
    }
    return client.post("/clinic/patients/new", data=data)


def test_the_new_patient_form_offers_email_ticked(client, world):
    login(client, "doc1@north.example")
    html = client.get("/clinic/patients/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="email_it"|name="email_it"[^>]*checked', html)


def test_a_new_patients_invitation_is_emailed_when_ticked(client, world, in_app, smtp_server):
    login(client, "doc1@north.example")
    r = _new_patient(client, in_app, world, email_it="y")
    assert r.status_code == 200
    link = _link(r.get_data(as_text=True))
    assert "on its way to dora@patients.example" in text_of(r)
    _send(in_app)
    (mail,) = smtp_server.to("dora@patients.example")
    assert mail["Subject"] == "Your ScleroCare invitation"
    assert link in links_in(mail)
    assert in_app(lambda: db.session.scalar(sa.select(OutboxMessage.secret))) is None
    client.get("/logout")
    assert client.get(link.removeprefix("http://localhost")).status_code == 200


def test_not_ticked_nothing_is_emailed(client, world, in_app, smtp_server):
    login(client, "doc1@north.example")
    r = _new_patient(client, in_app, world)
    assert r.status_code == 200
    assert "on its way" not in text_of(r)
    _send(in_app)
    assert smtp_server.to("dora@patients.example") == []


def test_a_new_sign_in_link_is_emailed_and_audited(admin, world, in_app, smtp_server):  # noqa: F811
    # Alice has a password: a new link replacing it is a clinic admin's (issue 18).
    r = admin.post(f"/clinic/patients/{world.patient_a}/invitation", data={"email_it": "y"})
    assert r.status_code == 200
    link = _link(r.get_data(as_text=True))
    _send(in_app)
    # With the link, the notice that a link was made (it has none).
    (mail,) = [m for m in smtp_server.to("alice@patients.example") if links_in(m)]
    assert link in links_in(mail)
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(
                    AuditEvent.action == "invitation emailed"
                )
            )
        )
        == 1
    )


def test_another_clinics_patient_is_not_emailed(client, world, in_app, smtp_server):
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/patients/{world.patient_c}/invitation", data={"email_it": "y"})
    assert r.status_code == 404
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))) == 0


def test_an_accented_mailbox_name_is_refused_when_the_patient_is_added(client, world, in_app):
    # The app's email cannot reach josé@… (no SMTPUTF8): the invitation would fail, so
    # the address is refused on the form, with what was typed kept.
    login(client, "doc1@north.example")
    r = _new_patient(client, in_app, world, email="josé@patients.example", email_it="y")
    assert r.status_code == 400
    assert "no accents before the @" in text_of(r)
    assert "josé@patients.example" in r.get_data(as_text=True)
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))) == 0


def test_an_accented_mailbox_name_is_refused_for_staff(admin):  # noqa: F811 - fixture
    r = admin.post(
        "/clinic/staff",
        data={"name": "José", "email": "josé@north.example", "role": "clinician"},
    )
    assert r.status_code == 400
    assert "Enter an email address like name@example.com." in text_of(r)
