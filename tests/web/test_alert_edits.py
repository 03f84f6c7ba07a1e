"""An open alert never loses what the patient reported (issue 14 points 1, 4 and 11).

A patient may change today's check-in before the clinic has looked at the alert it
raised. The alert must keep its most severe tier and every reason given, so the
clinician still sees "chest pain" (and must write a note to acknowledge an emergency),
and Today does not swap the emergency advice for weaker advice before anyone has seen it.
Whether the edit is to "as expected" or to a same-day answer must not matter.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form


def _alert(in_app) -> Alert:
    return in_app(lambda: db.session.scalar(sa.select(Alert)))


def test_editing_an_emergency_down_to_same_day_keeps_the_emergency_alert(
    app, client, world, in_app
):
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data=form(yes={"chest-breathing"})).status_code == 200
    chest = _alert(in_app).reasons
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert r.status_code == 200

    alert = _alert(in_app)
    # Level and severity agree, and the chest symptoms the clinic has not seen yet stay.
    assert alert.level == "emergency" and alert.severity == 0
    assert set(chest) <= set(alert.reasons)
    assert any("calf" in reason.lower() for reason in alert.reasons)
    # Today keeps the emergency advice until a clinician has seen it, as it does when
    # the edit is to "as expected".
    assert "Call 999" in text_of(client.get("/patient/today"))

    doc = app.test_client()
    login(doc, "doc1@north.example")
    doc.post(f"/clinician/alerts/{alert.id}/acknowledge", data={"note": ""})
    assert _alert(in_app).acknowledged_at is None  # an emergency still needs a note


def test_editing_an_emergency_to_as_expected_keeps_it_too(client, world, in_app):
    """The reference behaviour the same-day edit must match."""
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    client.post("/patient/checkin", data=form())
    alert = _alert(in_app)
    assert alert.level == "emergency" and alert.severity == 0
    assert "Call 999" in text_of(client.get("/patient/today"))


def test_two_clinicians_acknowledging_at_once_keep_the_first_note(
    app, client, world, in_app, monkeypatch
):
    """Two clinicians acknowledge the same emergency at the same moment, each with a note
    of what they did. The first acknowledgement stays (as the service promises): the
    second must not overwrite its note, its time or who made it."""
    from datetime import UTC
    from datetime import datetime

    from app.models import Clinic
    from app.models import Role
    from tests.conftest import make_staff

    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    alert_id = _alert(in_app).id
    other = in_app(
        lambda: (
            make_staff(
                db.session.get(Clinic, world.clinic1), "doc3@north.example", Role.CLINICIAN
            ).id
        )
    )
    first_at = datetime(2026, 11, 20, 11, 59, tzinfo=UTC)

    real_get = db.session.get
    raced = []

    def get_then_other_clinician_commits(entity, ident, *args, **kwargs):
        row = real_get(entity, ident, *args, **kwargs)
        if entity is Alert and not raced:
            raced.append(1)  # between this read and this write, the colleague commits
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(Alert)
                    .where(Alert.id == ident, Alert.acknowledged_at.is_(None))
                    .values(
                        acknowledged_at=first_at,
                        acknowledged_by_id=other,
                        ack_note="Called her at once: sent to A&E by ambulance.",
                    )
                )
        return row

    doc = app.test_client()
    login(doc, "doc1@north.example")
    monkeypatch.setattr(db.session, "get", get_then_other_clinician_commits)
    doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Left a voicemail."})
    monkeypatch.undo()

    assert raced
    alert = _alert(in_app)
    assert alert.ack_note == "Called her at once: sent to A&E by ambulance."
    assert alert.acknowledged_by_id == other
    assert alert.acknowledged_at == first_at
