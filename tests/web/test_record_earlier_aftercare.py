"""Recording a session inside the aftercare of the previous one: Today follows the
latest session, so what was still running from the earlier one (stockings until
Thursday, weeks of sun avoidance) would leave the patient's screen (adversarial review,
2026-12-07: the patient lost "wear your stockings day and night until Thu" without
anyone knowing). Today lists it under the earlier session until it ends, and the
clinician who records the session is told exactly what, to pass on.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.recovery.resolved_plan import still_running
from app.extensions import db
from app.models import Treatment
from app.services.protocols import protocol_by_version
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_booking import _ids
from tests.web.test_booking import _vid
from tests.web.test_booking import _when
from tests.web.test_record_race import _record

LONDON = ZoneInfo("Europe/London")


def test_still_running_lists_what_outlives_an_instant(app, world, in_app):
    def running(at: datetime):
        (first,) = _ids(in_app, world.patient_a)
        t = db.session.get(Treatment, first)
        protocol = protocol_by_version(t.protocol_version_id, t.protocol_version.sha256)
        return still_running(protocol, t.treated_at.replace(tzinfo=UTC), LONDON, at)

    soon = in_app(running, datetime(2026, 11, 18, 10, 0, tzinfo=UTC))
    late = in_app(running, datetime(2027, 6, 1, tzinfo=UTC))
    assert soon and late == ()
    assert [end for _, end in soon] == sorted(end for _, end in soon)


def _record_second(client, world, in_app, key: str, day: str = "20", at: str = "09:00") -> str:
    login(client, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/sessions"
    data = {
        "protocol": _vid(in_app, world, key),
        "confirm_soon": "y",
        **_when(day, "11", "2026", at),
    }
    assert client.post(url, data=data).status_code == 303
    client.get(f"/clinic/patients/{world.patient_a}")  # the booking's message, read
    new = _ids(in_app, world.patient_a)[-1]
    r = client.post(f"/clinic/sessions/{new}/record", data=_record(at))
    assert r.status_code == 303
    return text_of(client.get(r.headers["Location"]))


def test_recording_inside_the_earlier_aftercare_names_what_leaves_today(client, world, in_app):
    """Alice's 72-hour session was on Tue 17 Nov; a no-stockings session is recorded on
    Fri 20 Nov at 09:00, an hour before her day-and-night stockings end."""
    page = _record_second(client, world, in_app, "compression-none")
    assert "Treatment recorded." in page
    assert "From earlier sessions, these were still running" in page
    assert "Wear your stockings day and night until Fri 20 Nov 10:00" in page
    assert "tell the patient what still applies." in page
    assert "Today page shows them under their session until they end" in page


def test_items_the_new_session_runs_as_long_are_not_listed(client, world, in_app):
    """A second session on the same protocol runs every item of the first for longer:
    nothing leaves Today, so nothing is said."""
    page = _record_second(client, world, in_app, "compression-72h")
    assert "Treatment recorded." in page and "still running" not in page


def test_a_first_session_gets_no_such_note(client, world, in_app):
    (bob,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/sessions/{bob}/record", data=_record("09:00"))
    page = text_of(client.get(r.headers["Location"]))
    assert "Treatment recorded." in page and "still running" not in page


def test_correcting_the_older_session_says_nothing_of_the_kind(client, world, in_app):
    """Today follows the later session, so a correction of the earlier one takes
    nothing off it."""
    _record_second(client, world, in_app, "compression-none")
    first = _ids(in_app, world.patient_a)[0]
    data = {**_record("10:00", recorded="1"), **_when("17", "11", "2026", "10:00")}
    r = client.post(f"/clinic/sessions/{first}/record", data=data)
    assert r.status_code == 303
    page = text_of(client.get(r.headers["Location"]))
    assert "Treatment recorded." in page and "still running" not in page


def test_today_keeps_what_the_earlier_session_still_asks(client, world, in_app, clock):
    """Alice's day-and-night stockings from Tue 17 Nov end on Fri 20 Nov at 10:00. A
    no-stockings session recorded at 09:00 that day must not take them off Today: they
    are listed under the earlier session, and "No restrictions any more" (true of the
    new session alone) is not said beside them. Once they end, the list goes."""
    _record_second(client, world, in_app, "compression-none")
    clock.now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Still to follow from your session on Tue 17 Nov" in page
    earlier = page.split("Still to follow", 1)[1].split("To do today", 1)[0]
    assert "Wear your stockings day and night" in earlier and "Until 10:00 today" in earlier
    # Things to avoid are under "Avoid for now", in the words of the main list.
    avoid = earlier.split("Avoid for now", 1)[1]
    assert "Waxing your legs until the end of Tue 15 Dec." in avoid
    assert "No restrictions any more" not in page
    clock.now = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    later = text_of(client.get("/patient/today"))
    assert "Wear your stockings day and night" not in later


def test_a_third_session_keeps_what_the_first_still_asks(client, world, in_app, clock):
    """Sessions on Tue 17 (72 hours of stockings, then daytime stockings to 27 Nov),
    then no-stockings sessions on Fri 20 at 09:00 and 11:00: on Fri at 11:30 Today still
    shows the first session's daytime stockings and its sun and waxing limits, and the
    clinician recording the third is told of them too (adversarial review, 2026-12-08:
    only the session just before the latest was looked at)."""
    _record_second(client, world, in_app, "compression-none")
    note = _record_second(client, world, in_app, "compression-none", at="11:00")
    assert "From earlier sessions, these were still running" in note
    assert "Wear your stockings in the daytime until" in note
    # An end at midnight reads as the patient's page says it, not "Wed 16 Dec 00:00".
    assert "Sun on the treated areas until the end of Tue 15 Dec" in note
    clock.now = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Still to follow from your session on Tue 17 Nov" in page
    first = page.split("Still to follow from your session on Tue 17 Nov", 1)[1]
    assert "wear your stockings in the daytime" in first.lower()
    assert "Waxing your legs until the end of Tue 15 Dec." in first


def _earlier_24h_then_72h(app, world, in_app):
    """Alice's 72-hour session (Tue 17 Nov 10:00) stays the latest; a 24-hour session
    is recorded for 09:00 the same day, and its daytime stockings run to Wed 2 Dec,
    past the 72-hour protocol's (adversarial review, 2026-12-08)."""
    from tests.web.test_booking import _when as when

    doc = app.test_client()
    login(doc, "doc1@north.example")
    url = f"/clinic/patients/{world.patient_a}/sessions"
    data = {"protocol": _vid(in_app, world, "compression-24h"), "confirm_soon": "y"}
    assert doc.post(url, data={**data, **when("20", "11", "2026", "13:00")}).status_code == 303
    doc.get(f"/clinic/patients/{world.patient_a}")
    new = _ids(in_app, world.patient_a)[-1]
    record = {**_record("09:00"), **when("17", "11", "2026", "09:00")}
    assert doc.post(f"/clinic/sessions/{new}/record", data=record).status_code == 303


def test_no_stockings_done_milestone_while_an_earlier_session_still_wears_them(
    app, world, in_app, clock
):
    _earlier_24h_then_72h(app, world, in_app)
    clock.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    patient = app.test_client()
    login(patient, "alice@patients.example")
    page = text_of(patient.get("/patient/today"))
    assert "Wear your stockings all day" in page.split("To do today")[0]
    assert "You no longer need to wear your stockings" not in page


def test_nothing_to_tick_is_not_said_beside_an_earlier_task(app, world, in_app, clock):
    _earlier_24h_then_72h(app, world, in_app)
    clock.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    patient = app.test_client()
    login(patient, "alice@patients.example")
    html = patient.get("/patient/today").get_data(as_text=True)
    assert "Still to follow" in html
    main = html.split("To do today", 1)[1].split("Avoid for now", 1)[0]
    # Shown until the earlier task ends; the usual line replaces it then (app.js).
    assert re.search(r'<p data-until="[^"]+">Nothing to tick from this session\.</p>', main)
    assert re.search(r'<p data-from="[^"]+" hidden>Nothing to tick now\. Keep living', main)


def test_the_stocking_milestone_waits_in_spanish_too(app, world, in_app, clock):
    """The check that a milestone says the stockings are over reads English words: it
    must read the protocol's own text, not the Spanish reader's."""
    from babel.support import Translations

    from app.models import Patient

    _earlier_24h_then_72h(app, world, in_app)

    def spanish():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(spanish)
    said = Translations.load("app/translations", ["es"]).gettext(
        "You no longer need to wear your stockings"
    )
    assert said != "You no longer need to wear your stockings"
    clock.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    patient = app.test_client()
    login(patient, "alice@patients.example")
    page = text_of(patient.get("/patient/today"))
    assert "Ponga" in page or "medias" in page  # a Spanish page, with the card
    assert said not in page
