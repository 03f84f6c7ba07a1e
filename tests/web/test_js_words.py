"""The page scripts' words reach a Spanish patient in Spanish (issue 19 point 4).

Each script writes its words in English through ``t("...")``; the server sends their
translations in the page (app/js_messages.py, base.html's sc-i18n JSON). These check
that every such word is a marked message pybabel extracts, and that a Spanish reader's
page carries them from the catalogue (tests/fake_catalogue.py) while an English page
carries none (the scripts' English is the fallback).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.extensions import db
from app.js_messages import MESSAGES
from app.models import Patient
from tests.conftest import login
from tests.fake_catalogue import extracted
from tests.fake_catalogue import fake_spanish as fake_spanish  # noqa: F401 - a fixture
from tests.fake_catalogue import in_spanish

SCRIPTS = Path(__file__).resolve().parents[2] / "app" / "static" / "js"
# A call of the scripts' t() with a literal: t("...") (JSON escapes, as in JavaScript).
CALL = re.compile(r'\bt\("((?:[^"\\]|\\.)*)"')
WORDS = re.compile(r'<script type="application/json" id="sc-i18n">(.*?)</script>', re.S)


def script_words() -> set[str]:
    found = set()
    for script in SCRIPTS.glob("*.js"):
        found |= {json.loads(f'"{m}"') for m in CALL.findall(script.read_text())}
    return found


def test_every_script_word_is_a_marked_message():
    words = script_words()
    assert "Please answer yes or no: %(title)s" in words  # the scan finds them
    assert words <= set(MESSAGES), words - set(MESSAGES)
    assert set(MESSAGES) <= extracted(), set(MESSAGES) - extracted()
    # No script writes a user-facing sentence by gluing words around a value.
    for script in SCRIPTS.glob("*.js"):
        text = script.read_text()
        assert '"Please answer yes or no: " +' not in text and '"Photo chosen: " +' not in text


def _page_words(client, path: str) -> dict[str, str] | None:
    found = WORDS.search(client.get(path).get_data(as_text=True))
    return json.loads(found.group(1)) if found else None


def test_a_spanish_patients_pages_carry_the_scripts_words(app, client, world, in_app, fake_spanish):
    def spanish():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(spanish)
    login(client, "alice@patients.example")
    words = _page_words(client, "/patient/checkin")
    assert words is not None and set(words) == set(MESSAGES)
    # Each is what the Spanish catalogue says, its %(name)s left for the script to fill.
    assert all(words[m] == in_spanish(app, m) for m in MESSAGES)
    assert "%(title)s" in words["Please answer yes or no: %(title)s"]
    assert _page_words(client, "/patient/reminders") == words


def test_an_english_page_carries_no_script_words(client, world):
    login(client, "alice@patients.example")
    assert _page_words(client, "/patient/today") is None
    assert _page_words(client, "/login") is None
