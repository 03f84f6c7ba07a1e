"""Pushes and emails in their reader's language (issue 19 point 4).

The dispatcher writes each row outside any request, so the language is the recipient's:
a patient's chosen one (else the clinic's locale), a clinician's clinic's locale. Push
text stays generic in every language (no health details: CONTRIBUTING.md, "Privacy").
Messages the catalogue has not caught up with come back as ``ES[...]``
(tests/fake_catalogue.py).
"""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa

from app.domain.reminders import MESSAGES
from app.extensions import db
from app.models import Patient
from app.services.notify import dispatch
from tests.fake_catalogue import extracted
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.fake_catalogue import in_spanish
from tests.services.test_email_dispatch import AT
from tests.services.test_email_dispatch import _patient
from tests.services.test_email_dispatch import _run
from tests.services.test_push import HEALTH_WORDS
from tests.services.test_push import _subscribe
from tests.services.test_push import _treated_patient
from tests.smtp_double import text_of as mail_text


def _spanish(patient_id: int) -> None:
    db.session.get(Patient, patient_id).language = "es"
    db.session.commit()


def test_a_spanish_patients_push_is_in_spanish_and_still_generic(
    app, client, in_app, push_service, sender, fake_spanish
):
    patient_id = _treated_patient(in_app)
    in_app(_spanish, patient_id)
    fake = push_service.new_subscription()
    _subscribe(client, "alice@patients.example", fake)
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)  # the 72-hour milestone
    assert in_app(dispatch.run_until_empty, sender, at).sent >= 1
    messages = [json.loads(p) for p in push_service.delivered()]
    expected = in_spanish(app, MESSAGES["milestone"])
    assert MESSAGES["milestone"] in extracted() and expected != MESSAGES["milestone"]
    assert [m for m in messages if m["body"] == expected]
    assert not [m for m in messages if m["body"] in MESSAGES.values()]  # none in English
    for m in messages:
        assert m["title"] == "ScleroCare"
        text = json.dumps(m, ensure_ascii=False).lower()
        assert not any(word in text for word in HEALTH_WORDS), m


def test_a_spanish_patients_digest_email_is_in_spanish(app, in_app, smtp_server, fake_spanish):
    patient_id = in_app(_patient, ["daily", "checklist"])
    in_app(_spanish, patient_id)
    assert _run(in_app, AT).sent == 1
    mail = smtp_server.messages[0]
    subject = "Your %(app)s reminders for today"
    assert subject in extracted()
    assert mail["Subject"] == in_spanish(app, subject, app="ScleroCare")
    body = mail_text(mail)
    for msgid in ("Hello,", "You have reminders from your clinic today:", MESSAGES["daily"]):
        assert msgid in extracted() and in_spanish(app, msgid) in body, msgid
    assert "- Your check-in and aftercare for today are ready." not in body  # not English


def test_an_english_patients_email_stays_english(app, in_app, smtp_server, fake_spanish):
    in_app(_patient, ["daily"])
    assert _run(in_app, AT).sent == 1
    mail = smtp_server.messages[0]
    assert mail["Subject"] == "Your ScleroCare reminders for today"
    assert "ES[" not in mail_text(mail)


def test_a_spanish_patients_account_link_email_is_in_spanish(
    app, in_app, smtp_server, fake_spanish
):
    from app.models import User
    from app.services.notify.email_enqueue import enqueue_link_email

    def queue() -> None:
        patient_id = _patient([])
        _spanish(patient_id)
        user = db.session.scalar(sa.select(User).where(User.email == "alice@patients.example"))
        enqueue_link_email(user, "signin", "http://localhost/login/token", AT)
        db.session.commit()

    in_app(queue)
    assert _run(in_app, AT).sent == 1
    mail = smtp_server.messages[0]
    assert mail["Subject"] == in_spanish(app, "Your %(app)s sign-in link", app="ScleroCare")
    body = mail_text(mail)
    assert in_spanish(app, "Here is your link to sign in to %(app)s:", app="ScleroCare") in body
    assert in_spanish(app, "This email was sent automatically; replies are not read.") in body
