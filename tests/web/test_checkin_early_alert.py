"""A warning sign answered "yes" on a form refused for another reason is alerted at once
(issue 19 point 3; issue 14 point 6: nothing in the rest of the form may hold back
red-flag advice).

Alice is on day 3 of the 72 h protocol. She answers "yes" to calf pain and leaves the
pain score blank: the form comes back to be finished, with the advice first, and the
clinic has the alert already. Sending the same form again, or the fixed form later,
joins that alert: the same answer is never alerted twice, even after a clinician has
acknowledged it. A covered sign (a blister ticked in the skin list) counts the same.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_today_course import doctor

CALF = "Pain, swelling, warmth or tenderness in the calf or the whole leg, especially on one side"
CHEST = "Chest pain, sudden breathlessness, coughing up blood, a racing heart or fainting"


def _alerts(in_app) -> list[Alert]:
    return in_app(lambda: list(db.session.scalars(sa.select(Alert).order_by(Alert.id))))


def _checkin_id(in_app) -> int:
    return in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))


def test_a_yes_with_a_blank_answer_gets_the_advice_and_alerts_the_clinic_at_once(
    client, world, in_app
):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    html, page = r.get_data(as_text=True), text_of(r)
    assert r.status_code == 400 and in_app(count, CheckIn) == 0
    assert "Choose a pain score from 0 to 10." in page
    advice = html.split('id="urgent-advice"')[1].split("</section>")[0]
    assert "Please get advice today" in advice and CALF in advice
    assert "Your clinic has been alerted to this answer." in advice
    assert html.index('id="urgent-advice"') < html.index('id="error-summary"')
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.reasons, alert.checkin_id) == ("same_day", [CALF], None)
    assert alert.day == 3 and alert.acknowledged_at is None
    # The clinic sees it on its worklist now, not when the form is fixed.
    assert "Pain, swelling, warmth" in text_of(doctor(client.application).get("/clinic/"))


def test_an_emergency_yes_with_a_blank_answer_shows_the_call_screen_and_alerts(
    client, world, in_app
):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}, bruising=""))
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Call 999 now" in html.split('id="error-summary"')[0]
    assert html.index('href="tel:999"') < html.index('id="error-summary"')
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.severity, alert.reasons) == ("emergency", 0, [CHEST])


def test_a_double_submit_of_the_refused_form_raises_one_alert(client, world, in_app):
    login(client, "alice@patients.example")
    data = form(yes={"calf-pain-swelling"}, pain="", client_key="tap-1")
    assert client.post("/patient/checkin", data=data).status_code == 400
    assert client.post("/patient/checkin", data=data).status_code == 400
    again = form(yes={"calf-pain-swelling"}, pain="", client_key="tap-2")
    assert client.post("/patient/checkin", data=again).status_code == 400
    (alert,) = _alerts(in_app)
    assert alert.reasons == [CALF]


def test_the_fixed_form_joins_the_alert_instead_of_raising_a_second(client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert r.status_code == 200 and "Please call the clinic today" in text_of(r)
    (alert,) = _alerts(in_app)
    assert alert.checkin_id == _checkin_id(in_app)
    assert (alert.level, alert.reasons) == ("same_day", [CALF])


def test_an_acknowledged_early_alert_is_not_raised_again_by_the_fixed_form(client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    (alert,) = _alerts(in_app)
    acked = doctor(client.application).post(
        f"/clinic/alerts/{alert.id}/acknowledge", data={"note": "Rang her: scan booked"}
    )
    assert acked.status_code in (200, 302, 303)
    assert _alerts(in_app)[0].acknowledged_at is not None
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert r.status_code == 200
    (alert,) = _alerts(in_app)  # still one: the clinic has dealt with this answer
    assert alert.checkin_id == _checkin_id(in_app)
    # A new, more urgent answer that day is alerted as usual.
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling", "chest-breathing"}))
    alerts = _alerts(in_app)
    assert len(alerts) == 2 and alerts[1].level == "emergency"


def test_a_more_urgent_fixed_form_raises_the_open_alert(client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling", "chest-breathing"}))
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.severity) == ("emergency", 0)
    assert alert.reasons == [CALF, CHEST]


def test_a_covered_sign_ticked_on_a_refused_form_is_alerted_at_its_tier(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(skin="blister", pain=""))
    assert r.status_code == 400 and "Please get advice today" in text_of(r)
    (alert,) = _alerts(in_app)
    assert (alert.level, alert.reasons) == ("same_day", ["A blister"])


def test_routine_or_unshown_answers_on_a_refused_form_alert_nobody(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(lumps="yes", skin="brown", pain=""))
    assert r.status_code == 400 and 'id="urgent-advice"' not in r.get_data(as_text=True)
    # Allergy is not asked on day 3: a "yes" to it is refused, not alerted.
    r = client.post("/patient/checkin", data=form(pain="") | {"rf-allergy": "yes"})
    assert r.status_code == 400 and "Answer only the questions shown." in text_of(r)
    # A pain score out of range is no score: its same-day rule is not guessed at.
    r = client.post("/patient/checkin", data=form(pain="11", bruising=""))
    assert r.status_code == 400
    assert _alerts(in_app) == []


def test_a_refused_edit_joins_the_days_check_in(client, world, in_app):
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data=form()).status_code == 200
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, bruising=""))
    assert r.status_code == 400
    (alert,) = _alerts(in_app)
    assert alert.checkin_id == _checkin_id(in_app) and alert.level == "same_day"
    # The stored answers are unchanged until the edit is sent whole.
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.level))) == "none"


def test_an_alert_with_no_stored_check_in_exports_as_valid_fhir(client, world, in_app):
    """The early alert has no check-in to point at: the FHIR export leaves its evidence
    out instead of a reference that resolves to nothing."""
    from app.services.export.fhir import patient_bundle
    from tests.conftest import NOW
    from tests.services.test_fhir_export import check_bundle
    from tests.services.test_fhir_export import of_type

    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    bundle = in_app(lambda: patient_bundle(db.session, world.patient_a, now=NOW))
    (issue,) = of_type(check_bundle(bundle), "DetectedIssue")
    assert "evidence" not in issue and issue["status"] == "preliminary"
