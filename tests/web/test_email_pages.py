"""The pages around email (issue 17 point 5): the patient's choice on the Reminders page,
the development-only caught-mail page, the production settings check, and emailing a
patient their invitation through the outbox.
"""

from __future__ import annotations

import os
import re

import pytest

from app import create_app
from app.extensions import db
from app.models import EmailPreference
from config import ConfigError
from config import ProductionConfig
from config import TestingConfig
from tests.conftest import login
from tests.conftest import text_of


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def _choice(in_app, patient_id):
    row = in_app(lambda: db.session.get(EmailPreference, patient_id))
    if row is None:
        return None
    return (row.reminders_by_email, row.unsubscribed_at is not None)


def test_the_reminders_page_offers_email_and_saves_the_choice(client, world, in_app):
    login(client, "alice@patients.example")
    page = client.get("/patient/reminders")
    html = page.get_data(as_text=True)
    assert "Reminders by email" in text_of(page) and "alice@patients.example" in html
    assert re.search(r'<input checked[^>]*value="auto"', html)  # the default
    saved = client.post("/patient/reminders/email", data={"channel": "email"})
    assert saved.status_code == 303
    assert _choice(in_app, world.patient_a) == (True, False)
    assert "at most one a day" in text_of(client.get("/patient/reminders"))
    client.post("/patient/reminders/email", data={"channel": "off"})
    assert _choice(in_app, world.patient_a) == (False, True)
    client.post("/patient/reminders/email", data={"channel": "auto"})
    assert _choice(in_app, world.patient_a) == (False, False)


@pytest.mark.parametrize("value", ["", "sms", "x" * 5000, "auto\x00"])
def test_an_odd_choice_changes_nothing(client, world, in_app, value):
    login(client, "alice@patients.example")
    response = client.post("/patient/reminders/email", data={"channel": value})
    assert response.status_code == 303
    if value != "auto\x00":  # the NUL is removed by app.textinput: a plain "auto"
        assert _choice(in_app, world.patient_a) is None
    page = client.get(response.headers["Location"])
    assert page.status_code == 200


def test_staff_cannot_post_a_patients_choice(client, world):
    login(client, "doc1@north.example")
    assert client.post("/patient/reminders/email", data={"channel": "email"}).status_code in (
        302,
        403,
        404,
    )


def test_caught_mail_page_exists_only_in_development(app, client, tmp_path):
    assert client.get("/dev/mail").status_code == 404
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "20261120T120000000000-00001.eml").write_bytes(
        b"From: a@x\r\nTo: alice@patients.example\r\nSubject: Hello there\r\n"
        b"Date: Fri, 20 Nov 2026 12:00:00 +0000\r\n\r\nOpen http://127.0.0.1:5000/patient/today\r\n"
    )
    dev = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        SCLERO_DEV_MAIL=True,
        SCLERO_DEV_MAIL_DIR=str(folder),
    )
    try:
        with dev.test_client() as c:
            inbox = c.get("/dev/mail")
            assert inbox.status_code == 200 and "Hello there" in text_of(inbox)
            one = c.get("/dev/mail/20261120T120000000000-00001.eml")
            assert one.status_code == 200 and "/patient/today" in text_of(one)
            assert c.get("/dev/mail/..%2F..%2Fconfig.py").status_code == 404
            assert c.get("/dev/mail/missing.eml").status_code == 404
    finally:
        # Its own engine: a PostgreSQL connection left in its pool would be closed by the
        # garbage collector, whose ResourceWarning fails some later, innocent test.
        with dev.app_context():
            db.engine.dispose()


def _production(**extra):
    # The class's own settings, as the app's config holds them (issue 18 refuses unsafe ones).
    base = {k: getattr(ProductionConfig, k) for k in dir(ProductionConfig) if k.isupper()}
    base |= dict(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://db.internal/sclerocare",
        SECRET_KEY="s" * 40,
        VAPID_PRIVATE_KEY=None,
        MAIL_DEFAULT_SENDER="Clinic <noreply@clinic.example>",
        SCLERO_BASE_URL="https://care.clinic.example",
    )
    base.update(extra)
    return ProductionConfig.validate(base)


def test_production_refuses_a_missing_sender_and_unsafe_mail_settings():
    _production()  # complete: accepted
    with pytest.raises(ConfigError, match="MAIL_DEFAULT_FROM"):
        _production(MAIL_DEFAULT_SENDER=None)
    with pytest.raises(ConfigError, match="SCLERO_BASE_URL"):
        _production(SCLERO_BASE_URL="http://care.clinic.example")
    with pytest.raises(ConfigError, match="only one"):
        _production(MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    with pytest.raises(ConfigError, match="development only"):
        _production(SCLERO_DEV_MAIL=True)


def test_mail_settings_come_from_the_environment():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "FLASK_"))}
    env.update(MAIL_SERVER="smtp.clinic.example", MAIL_PORT="587", MAIL_USE_TLS="true")
    env.update(MAIL_USERNAME="u", MAIL_PASSWORD="p", MAIL_DEFAULT_FROM="C <n@clinic.example>")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from config import Config as C; print(C.MAIL_SERVER, C.MAIL_PORT, C.MAIL_USE_TLS,"
            " C.MAIL_USE_SSL, C.MAIL_USERNAME, C.MAIL_PASSWORD, C.MAIL_DEFAULT_SENDER)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "smtp.clinic.example 587 True False u p C <n@clinic.example>"


# Emailing a patient's invitation link: tests/web/test_patient_link_email.py.
