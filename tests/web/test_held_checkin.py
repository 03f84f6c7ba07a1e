"""A check-in sent after the idle sign-out is held for its author, not dropped
(app/patient/held.py; adversarial review 2026-12-07, issue 14 point 6)."""

from __future__ import annotations

import random
import re
import string

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form

NOTE = "Sudden chest pain since lunch"


def _chosen(html: str, name: str) -> str | None:
    """The value of the checked radio ``name`` on the page, or None."""
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and re.search(r"\bchecked\b", tag):
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def _idle_out(client, clock) -> None:  # noqa: ANN001
    login(client, "alice@patients.example")
    client.get("/patient/checkin")
    clock.advance(minutes=31)  # past SCLERO_PATIENT_IDLE (30 minutes)


def test_a_check_in_sent_after_the_idle_sign_out_comes_back_filled_in(client, world, in_app, clock):
    _idle_out(client, clock)
    sent = client.post("/patient/checkin", data=form(yes={"chest-breathing"}, pain="8", note=NOTE))
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/login?next=/patient/checkin")
    assert in_app(count, CheckIn) == 0
    signin = text_of(client.get(sent.headers["Location"]))
    # The emergency number comes first: nothing has reached the clinic.
    assert "call 999 now: do not wait to sign in" in signin
    assert signin.index("call 999 now") < signin.index("has not reached your clinic yet")

    login(client, "alice@patients.example")
    page = client.get("/patient/checkin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "You were signed out before this check-in was sent" in text_of(page)
    assert "Nothing you chose or wrote was lost." in text_of(page)
    assert _chosen(html, "rf-chest-breathing") == "yes"
    assert _chosen(html, "rf-infection") == "no"
    assert _chosen(html, "pain") == "8"
    assert NOTE in html
    # The call button before the rest, as for any answer with a warning sign.
    assert html.index('href="tel:999"') < html.index('id="error-summary"')
    assert in_app(count, CheckIn) == 0  # nothing is sent for the patient

    # Once: a second visit is the ordinary form.
    assert "signed out before" not in text_of(client.get("/patient/checkin"))

    done = client.post("/patient/checkin", data=form(yes={"chest-breathing"}, pain="8", note=NOTE))
    assert done.status_code == 200 and text_of(done).startswith("Call 999 now")
    assert in_app(lambda: db.session.scalar(sa.select(Alert.level))) == "emergency"


def test_another_person_signing_in_on_the_phone_never_sees_them(client, world, in_app, clock):
    _idle_out(client, clock)
    client.post("/patient/checkin", data=form(yes={"chest-breathing"}, note=NOTE))
    login(client, "cara@patients.example")  # another clinic's patient, same browser
    page = client.get("/patient/checkin")
    assert page.status_code == 200
    assert NOTE not in page.get_data(as_text=True)
    assert "signed out before" not in text_of(page)
    login(client, "alice@patients.example")
    # Dropped unseen when someone else opened the check-in: never shown later either.
    assert NOTE not in client.get("/patient/checkin").get_data(as_text=True)


def test_a_note_too_long_for_the_cookie_is_named_and_the_answers_kept(client, world, in_app, clock):
    _idle_out(client, clock)
    # Text that does not compress: the signed cookie is zlib-compressed when that helps.
    rng = random.Random(7)
    note = "".join(rng.choice(string.ascii_letters + " ") for _ in range(4999))
    sent = client.post("/patient/checkin", data=form(pain="7", note=note))
    assert sent.status_code == 303
    assert "Your note was too long to keep" in text_of(client.get(sent.headers["Location"]))
    login(client, "alice@patients.example")
    page = client.get("/patient/checkin")
    html = page.get_data(as_text=True)
    assert _chosen(html, "pain") == "7" and note[:40] not in html
    assert "Your note was too long to keep: please write it again." in text_of(page)
    assert "Nothing you chose or wrote was lost." not in text_of(page)


def test_a_replay_from_the_phones_queue_is_not_held_twice(client, world, in_app, clock):
    """The offline queue keeps its own entry until sign-in (app.js), so the server does
    not also put the answers back on the form."""
    _idle_out(client, clock)
    sent = client.post("/patient/checkin", data=form(note=NOTE), headers={"X-Sclero-Replay": "1"})
    assert sent.status_code == 302 and "/login" in sent.headers["Location"]
    login(client, "alice@patients.example")
    assert NOTE not in client.get("/patient/checkin").get_data(as_text=True)
    fetched = client.post(
        "/patient/checkin", data=form(note=NOTE), headers={"Sec-Fetch-Mode": "cors"}
    )
    assert fetched.status_code == 200  # signed in now: an ordinary check-in


def test_a_photo_sent_after_the_idle_sign_out_is_said_not_saved(client, world, clock):
    _idle_out(client, clock)
    sent = client.post(
        "/patient/photos",
        data={"side": "left", "region": "calf", "view": "front", "note": "the black patch"},
    )
    assert sent.status_code == 303
    assert sent.headers["Location"].startswith("/login?next=/patient/photos/new")
    assert "side%3Dleft" in sent.headers["Location"]
    page = text_of(client.get(sent.headers["Location"]))
    assert "so your photo was not saved. Please sign in and add it again." in page
