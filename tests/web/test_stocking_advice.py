"""Same-day advice follows the patient's protocol: "loosen or take off your stocking" only
while the protocol has stockings on, never on a protocol without compression (task D).

Each surface is checked for a patient without compression and one with it: the check-in
result, Today's urgent card, and the offline same-day page the check-in page carries for
the phone (its ``<template>``), in English and in Spanish.
"""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_today_course import add_patient

STOCKING = "loosen or take off your stocking"
NO_STOCKING = "loosen any bandage or tight clothing on the leg"
# Spanish: the catalogue's words for the two pieces of advice.
ES_STOCKING = "afloje o quítese la media"
ES_NO_STOCKING = "afloje cualquier vendaje o ropa ajustada"

CASES = [
    # (protocol, day, says, must not say)
    ("compression-none", 3, NO_STOCKING, STOCKING),
    ("compression-72h", 3, STOCKING, NO_STOCKING),
    # Day 12 of the 72 h protocol: its daytime stockings ended after day 10.
    ("compression-72h", 12, NO_STOCKING, STOCKING),
]


# The plain advice a page carries, hidden, for when the stockings come off (app.js shows
# it from its data-from instant on a page kept on the phone): not shown when drawn.
_LATER = re.compile(r'<p data-from="[^"]*" hidden>.*?</p>', re.DOTALL)


def _shown(html: str) -> str:
    return _LATER.sub("", html)


def _patient(in_app, key: str, day: int, language: str = "en") -> str:
    email = f"{key}-{day}-{language}@patients.example"
    pid = add_patient(in_app, email, day=day, key=key)

    def set_language() -> None:
        db.session.get(Patient, pid).language = language
        db.session.commit()

    in_app(set_language)
    return email


@pytest.mark.parametrize(("key", "day", "says", "not_says"), CASES)
def test_check_in_result_and_today_card_follow_the_protocol(
    client, world, in_app, key, day, says, not_says
):
    login(client, _patient(in_app, key, day))
    result = text_of(client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"})))
    assert "Please call the clinic today" in result or "Please get advice today" in result
    assert says in result and not_says not in result
    today = client.get("/patient/today")
    card = today.get_data(as_text=True).split('id="urgent-advice"')[1].split("</section>")[0]
    card = _shown(card)
    assert says in card and not_says not in card


@pytest.mark.parametrize(("key", "day", "says", "not_says"), CASES)
def test_offline_same_day_page_follows_the_protocol(
    client, world, in_app, key, day, says, not_says
):
    login(client, _patient(in_app, key, day))
    html = client.get("/patient/checkin").get_data(as_text=True)
    offline = html.split('<template id="offline-same-day">')[1].split("</template>")[0]
    offline = _shown(offline)
    assert says in offline and not_says not in offline


@pytest.mark.parametrize(
    ("key", "says", "not_says"),
    [
        ("compression-none", ES_NO_STOCKING, ES_STOCKING),
        ("compression-72h", ES_STOCKING, ES_NO_STOCKING),
    ],
)
def test_the_advice_is_translated(client, world, in_app, key, says, not_says):
    login(client, _patient(in_app, key, 3, "es"))
    offline = client.get("/patient/checkin").get_data(as_text=True)
    offline = _shown(offline.split('<template id="offline-same-day">')[1].split("</template>")[0])
    result = text_of(client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"})))
    today = _shown(client.get("/patient/today").get_data(as_text=True))
    for text in (offline, result, today):
        assert says in text and not_says not in text


# An order to wear stockings, as the pages word it; "no longer need to wear" is allowed.
WEAR = re.compile(r"(?<!need to )\bwear(ing)? (your |the )?stockings\b", re.IGNORECASE)


@pytest.mark.parametrize(("key", "from_day"), [("compression-none", 3), ("compression-72h", 12)])
def test_rendered_pages_walked_day_by_day(client, world, in_app, clock, key, from_day):
    """The pages as rendered, with a same-day alert open so the urgent card shows: on a
    protocol without compression no stocking word at all on days 3 to 30 (the domain walk
    covers days 0 to 2); on the 72 h
    protocol no order to wear stockings once they have ended (day 11 on)."""
    email = _patient(in_app, key, from_day)
    login(client, email)
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    for day in range(from_day, 31):
        login(client, email)  # a day's idle ends the session
        pages = {p: text_of(client.get(f"/patient/{p}")) for p in ("today", "checkin")}
        assert "Please call" in pages["today"] or "Please get advice" in pages["today"]
        for name, text in pages.items():
            if key == "compression-none":
                assert "stocking" not in text.lower(), (day, name)
            else:
                assert not WEAR.search(text), (day, name, WEAR.search(text))
                assert STOCKING not in text, (day, name)
        clock.advance(days=1)


def test_a_page_kept_on_the_phone_drops_the_stocking_at_its_end(client, world, in_app):
    """Today and the check-in page are kept for offline use (static/sw.js): one drawn on
    a stocking day and read after the stockings came off must not still say "take off
    your stocking". The stocking advice ends (data-until) when the stockings do, at the
    end of day 10 of the 72 h protocol (day and night, then daytime, as one stretch), and
    the plain advice is there, hidden, from that instant (data-from) for app.js."""
    login(client, _patient(in_app, "compression-72h", 3))
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    today = client.get("/patient/today").get_data(as_text=True)
    checkin = client.get("/patient/checkin").get_data(as_text=True)
    card = today.split('id="urgent-advice"')[1].split("</section>")[0]
    offline = checkin.split('<template id="offline-same-day">')[1].split("</template>")[0]
    # The daytime stockings task's own end, as Today's task list marks it.
    stockings_end = re.search(r'id="task-stockings-daytime"[^>]*data-until=("[^"]+")', today)[1]
    for page in (card, offline):
        until = re.search(r'<p data-until=("[^"]+")>([^<]*)</p>', page)
        later = re.search(r'<p data-from=("[^"]+") hidden>([^<]*)</p>', page)
        assert until and STOCKING in until.group(2), page
        assert later and NO_STOCKING in later.group(2), page
        assert until.group(1) == later.group(1) == stockings_end
