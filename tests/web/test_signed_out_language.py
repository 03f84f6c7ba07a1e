"""The pages a patient reads before signing in, in their language (issue 19 point 4).

A link (invitation or password reset, usable or not) and a remembered phone name their
patient: their pages are in that patient's chosen language. Any other page before sign
in follows the browser's languages among those offered, else en-GB; a signed-in
patient keeps their own choice whatever the browser says (tests/web/test_locale.py).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clock import advancing
from app.extensions import db
from app.models import Patient
from app.models import User
from app.services.accounts import issue_invitation
from app.services.notify import dispatch
from tests.conftest import text_of
from tests.web.test_password_reset import _ask
from tests.web.test_password_reset import _reset_path
from tests.web.test_remembered_device import come_back
from tests.web.test_remembered_device import remember


class NoPush:
    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def lang_of(response) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert found, "no <html lang>"
    return found.group(1)


def _language(in_app, patient_id: int, language: str) -> None:
    def choose():
        db.session.get(Patient, patient_id).language = language
        db.session.commit()

    in_app(choose)


def _invite(in_app, email: str, now) -> str:  # noqa: ANN001
    def issue():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        token = issue_invitation(user, None, now)
        db.session.commit()
        return token

    return in_app(issue)


@pytest.mark.parametrize(
    ("accept", "lang"),
    [(None, "en-GB"), ("es-ES,es;q=0.9", "es"), ("en-US,en;q=0.8", "en-GB"), ("fr", "en-GB")],
)
def test_the_sign_in_page_follows_the_browser_among_the_offered_languages(
    client, world, accept, lang
):
    headers = {"Accept-Language": accept} if accept else {}
    r = client.get("/login", headers=headers)
    assert r.status_code == 200 and lang_of(r) == lang
    if lang == "es":
        assert "Iniciar sesión" in text_of(r)  # "Sign in", from the shipped catalogue


def test_a_spanish_patients_invitation_page_is_spanish_on_an_english_browser(
    client, world, in_app, clock
):
    _language(in_app, world.patient_a, "es")
    token = _invite(in_app, "alice@patients.example", clock())
    r = client.get(f"/invite/{token}", headers={"Accept-Language": "en-GB"})
    assert r.status_code == 200 and lang_of(r) == "es"
    # The same link run out: the "ask your clinic" page is Spanish too.
    clock.advance(days=30)
    gone = client.get(f"/invite/{token}", headers={"Accept-Language": "en-GB"})
    assert gone.status_code == 410 and lang_of(gone) == "es"
    # A password error on the form is Spanish as well.
    clock.advance(days=-30)
    bad = client.post(f"/invite/{token}", data={"password": "x", "confirm": "y"})
    assert bad.status_code == 400 and lang_of(bad) == "es"


def test_an_english_patients_link_stays_english_on_a_spanish_browser_if_chosen(
    client, world, in_app, clock
):
    _language(in_app, world.patient_a, "en")
    token = _invite(in_app, "alice@patients.example", clock())
    r = client.get(f"/invite/{token}", headers={"Accept-Language": "es"})
    assert lang_of(r) == "en-GB"
    # A patient who chose nothing: the browser decides, then the clinic's locale.
    _language(in_app, world.patient_a, "")
    assert lang_of(client.get(f"/invite/{token}", headers={"Accept-Language": "es"})) == "es"
    assert lang_of(client.get(f"/invite/{token}")) == "en-GB"


def test_an_unknown_link_follows_the_browser(client, world):
    r = client.get("/invite/not-a-token", headers={"Accept-Language": "es"})
    assert r.status_code == 410 and lang_of(r) == "es"
    assert lang_of(client.get("/reset/not-a-token")) == "en-GB"


def test_a_spanish_patients_reset_link_run_out_is_spanish(
    app, client, world, in_app, clock, smtp_server
):
    _language(in_app, world.patient_a, "es")
    _ask(client, "alice@patients.example")
    in_app(dispatch.run_until_empty, NoPush(), advancing(clock()))
    path = _reset_path(smtp_server, "alice@patients.example")
    assert lang_of(client.get(path)) == "es"
    clock.advance(minutes=61)
    page = client.get(path)
    assert page.status_code == 410 and lang_of(page) == "es"


def test_the_pin_page_of_a_spanish_patients_phone_is_spanish(client, world, in_app, clock):
    _language(in_app, world.patient_a, "es")
    remember(client)
    page = come_back(client, clock)
    assert page.request.path == "/login/pin" and lang_of(page) == "es"
    r = client.get("/login/pin", headers={"Accept-Language": "en-GB"})
    assert r.status_code == 200 and lang_of(r) == "es"
    wrong = client.post("/login/pin", data={"pin": "9999"})
    assert wrong.status_code == 401 and lang_of(wrong) == "es"
    assert "That PIN is not right" not in text_of(wrong)  # the ngettext message, in Spanish
