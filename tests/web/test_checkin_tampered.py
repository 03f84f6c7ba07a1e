"""A check-in sent the way no page sends it still keeps every warning sign (review
"rvclin" of issue 19 point 3; HAZ-01, control C2).

A broken client, a doubled offline replay or a tampered POST may send a field twice
("rf-chest-breathing=no&rf-chest-breathing=yes"), tick a skin change the page did not
offer that day, or send a refused form again after the clinic has acknowledged its
alert. None of these may lose a "yes", invent an answer, or alert the clinic twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Clinic
from app.patient.checkin_form import parse_checkin
from tests.conftest import count
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_concurrent_edits import on_devices
from tests.web.test_today_course import doctor

CALF = "Pain, swelling, warmth or tenderness in the calf or the whole leg, especially on one side"
CHEST = "Chest pain, sudden breathlessness, coughing up blood, a racing heart or fainting"


def _alerts(in_app) -> list[Alert]:
    return in_app(lambda: list(db.session.scalars(sa.select(Alert).order_by(Alert.id))))


def _stored(in_app) -> dict:
    return in_app(lambda: db.session.scalar(sa.select(CheckIn)).answers)


def test_a_warning_sign_sent_twice_keeps_its_yes_whichever_comes_first(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(**{"rf-chest-breathing": ["no", "yes"]}))
    assert r.status_code == 200 and "Call 999 now" in text_of(r)
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.reasons) == ("emergency", [CHEST])
    assert "chest-breathing" in _stored(in_app)["red_flags"]


def test_a_pain_score_sent_twice_is_read_as_the_higher(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(pain=["2", "9"]))
    assert r.status_code == 200 and "Please call the clinic today" in text_of(r)
    (alert,) = _alerts(in_app)
    assert alert.reasons == ["Pain 9 out of 10"]


def test_a_score_past_ten_sent_beside_a_real_one_does_not_hide_it(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(pain=["8", "99", "x" * 5000]))
    assert r.status_code == 200
    assert _stored(in_app)["pain"] == 8


def test_lumps_and_bruising_sent_twice_keep_the_more_worrying_answer(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post(
        "/patient/checkin", data=form(lumps=["no", "yes"], bruising=["mild", "severe", "none"])
    )
    assert r.status_code == 200
    stored = _stored(in_app)
    assert stored["lumps"] is True and stored["bruising"] == "severe"


def test_advice_answers_sent_twice_keep_the_not_followed_one(client, world, in_app):
    """Stockings, walking and raising the legs: "no" is what the clinic must not miss,
    whichever order a doubled field comes in (adversarial review 2026-12-07)."""
    login(client, "alice@patients.example")
    data = form(walked=["yes", "no"], elevated=["yes", "no"])
    del data["stockings_day"], data["stockings_night"]
    data["stockings"] = ["both", "none"]
    assert client.post("/patient/checkin", data=data).status_code == 200
    stored = _stored(in_app)
    assert (stored["stockings_day"], stored["stockings_night"]) == (False, False)
    # Walking and raising the legs are not asked on day 3: read as sent, still "no".
    read = parse_checkin(MultiDict([("walked", "yes"), ("walked", "no"), ("elevated", "no")]))
    assert (read["walked"], read["elevated"]) == ("no", "no")
    # The two questions of a kept page, doubled too.
    r = client.post(
        "/patient/checkin",
        data=form(stockings_day=["yes", "no"], stockings_night=["no", "yes"], client_key="2"),
    )
    assert r.status_code == 200
    stored = _stored(in_app)
    assert (stored["stockings_day"], stored["stockings_night"]) == (False, False)


def test_a_stocking_tick_on_a_protocol_without_stockings_is_refused(client, world, in_app):
    # compression-none never asks about stockings, and gives the tick no tier: stored,
    # it would be an answer nobody was asked, with no rule to alert anyone.
    in_app(
        lambda: make_patient(
            db.session.get(Clinic, world.clinic1), "nina@patients.example", key="compression-none"
        )
    )
    login(client, "nina@patients.example")
    assert "A stocking that rubs" not in text_of(client.get("/patient/checkin"))
    data = {k: v for k, v in form(skin="stocking-rubs").items() if not k.startswith("stock")}
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 400 and "Choose skin changes from the list." in text_of(r)
    assert in_app(count, CheckIn) == 0


def test_a_refused_form_sent_again_after_the_clinic_acknowledged_it_is_not_alerted_again(
    client, world, in_app
):
    # The offline queue (or a second tap) may send the refused form again after the
    # clinic has rung the patient: the same answer must not alert, or push, twice.
    login(client, "alice@patients.example")
    refused = form(yes={"calf-pain-swelling"}, pain="")
    assert client.post("/patient/checkin", data=refused).status_code == 400
    (alert,) = _alerts(in_app)
    acked = doctor(client.application).post(
        f"/clinic/alerts/{alert.id}/acknowledge", data={"note": "Rang her: scan booked"}
    )
    assert acked.status_code in (200, 302, 303)
    r = client.post("/patient/checkin", data=refused)
    assert r.status_code == 400
    assert "Please get advice today" in r.get_data(as_text=True).split('id="error-summary"')[0]
    assert len(_alerts(in_app)) == 1
    # A more urgent answer on the refused form is still alerted at once.
    worse = form(yes={"calf-pain-swelling", "chest-breathing"}, pain="")
    assert client.post("/patient/checkin", data=worse).status_code == 400
    alerts = _alerts(in_app)
    assert len(alerts) == 2 and alerts[1].level == "emergency"


def test_refused_and_fixed_forms_from_four_devices_at_once_raise_one_alert(app, world, in_app):
    # Four devices (or a phone's queue and its user) send at the same moment: two the
    # refused form with calf pain, one the fixed form, one the refused form with chest
    # pain too. One alert, at the highest tier, holding both answers.
    sends = [
        form(yes={"calf-pain-swelling"}, pain="", client_key="a"),
        form(yes={"calf-pain-swelling"}, pain="", client_key="b"),
        form(yes={"calf-pain-swelling"}, client_key="c"),
        form(yes={"calf-pain-swelling", "chest-breathing"}, bruising="", client_key="d"),
    ]
    statuses: list[int] = []
    on_devices(
        app,
        4,
        lambda i, client: statuses.append(
            client.post("/patient/checkin", data=sends[i]).status_code
        ),
    )
    assert sorted(statuses) == [200, 400, 400, 400]
    (alert,) = _alerts(in_app)
    assert (alert.level, set(alert.reasons)) == ("emergency", {CALF, CHEST})
    assert alert.checkin_id == in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))


def test_a_yes_in_a_change_too_late_to_store_still_alerts_and_advises(client, world, in_app, clock):
    # Day 3 checked in as fine; the patient then changes it on a phone that stays
    # offline, answering "yes" to chest pain; the phone is back on day 6. The change is
    # too late to store (the day's answers stand), but the yes must reach the clinic
    # and the advice must come first (issue 14 point 6: nothing may hold it back).
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data={**form(), "day": "3"}).status_code == 200
    late = {**form(yes={"chest-breathing"}), "day": "3", "client_key": "late-edit"}
    clock.advance(days=3)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=late)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "can no longer be changed" in text_of(r)
    assert "Call 999 now" in html.split('id="error-summary"')[0]
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.reasons, alert.day) == ("emergency", [CHEST], 3)
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.level))) == "none"
    # The queue sending it again joins that alert.
    assert client.post("/patient/checkin", data=late).status_code == 400
    assert len(_alerts(in_app)) == 1


def test_a_change_too_late_to_store_without_a_yes_is_refused_as_before(
    client, world, in_app, clock
):
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data={**form(), "day": "3"}).status_code == 200
    clock.advance(days=3)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data={**form(pain="6"), "day": "3"})
    assert r.status_code == 400 and 'id="urgent-advice"' not in r.get_data(as_text=True)
    assert in_app(count, Alert) == 0
    # A day that is not one of this treatment's is refused without reading anything.
    assert (
        client.post(
            "/patient/checkin", data={**form(yes={"chest-breathing"}), "day": "99"}
        ).status_code
        == 400
    )
    assert in_app(count, Alert) == 0


def test_an_accepted_send_replayed_after_its_day_closed_is_the_stored_one(
    client, world, in_app, clock
):
    # The queue may send again a check-in the server already stored (its answer lost
    # on the way): it is recognised by its key, not refused, and not alerted twice.
    login(client, "alice@patients.example")
    sent = {**form(yes={"calf-pain-swelling"}), "day": "3", "client_key": "k-1"}
    assert client.post("/patient/checkin", data=sent).status_code == 200
    (alert,) = _alerts(in_app)
    doctor(client.application).post(f"/clinic/alerts/{alert.id}/acknowledge", data={"note": "Rang"})
    clock.advance(days=4)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=sent)
    assert r.status_code == 200 and "Please call the clinic today" in text_of(r)
    assert len(_alerts(in_app)) == 1


def test_a_huge_note_in_the_pages_own_multipart_body_loses_no_warning_sign(client, world, in_app):
    """Over Flask's 500 kB per text field, the whole multipart check-in was a 413: the
    chest pain "yes" reached no one. Now only the note is refused."""
    login(client, "alice@patients.example")
    data = form(yes={"chest-breathing"}, pain="8", note="N" * 1_000_000)
    # Encoded here, in memory: the test client would spool a body this large to a
    # temporary file it never closes (a ResourceWarning in some later test).
    boundary, body = encode_multipart(MultiDict(data))
    r = client.post(
        "/patient/checkin", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert r.status_code == 200 and text_of(r).startswith("Call 999 now")
    assert "your note is not" in text_of(r)
    (alert,) = _alerts(in_app)
    assert alert.level == "emergency"
    assert _stored(in_app)["note"] == ""


def test_other_answers_under_a_key_seen_before_are_stored_and_triaged(client, world, in_app):
    """A page restored with its key (a browser's back-forward cache), changed and sent
    again: a "yes" to chest pain was answered "as expected" from the first answers, and
    stored nowhere (adversarial review 2026-12-07, S4)."""
    login(client, "alice@patients.example")
    first = client.post("/patient/checkin", data=form(pain="2", client_key="K"))
    assert first.status_code == 200 and _alerts(in_app) == []
    again = client.post(
        "/patient/checkin", data=form(yes={"chest-breathing"}, pain="9", client_key="K")
    )
    assert again.status_code == 200 and text_of(again).startswith("Call 999 now")
    (alert,) = _alerts(in_app)
    assert alert.level == "emergency"
    stored = _stored(in_app)
    assert stored["pain"] == 9 and "chest-breathing" in stored["red_flags"]
    # A replay of either version is still a replay: nothing stored again.
    for data in (form(pain="2", client_key="K"), form(yes={"chest-breathing"}, pain="9")):
        data["client_key"] = "K"
        client.post("/patient/checkin", data=data)
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert checkin.pain == 9 and len(checkin.history) == 1
