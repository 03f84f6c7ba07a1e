"""An open same-day alert raised to emergency by the patient's edit pushes staff again.

Staff got a push for "pain 9" and may have put it aside for later; the patient then
answers "yes" to chest pain on the same day and the same open alert becomes an
emergency. Before, nothing new reached any device: the push was queued only when an
alert row was made (adversarial review, 2026-12-08).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from tests.conftest import add_staff_device
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form


def _alert_pushes(in_app) -> list[str]:
    return in_app(
        lambda: sorted(
            db.session.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.kind == "alert"))
        )
    )


def test_raised_to_emergency_pushes_staff_again_once(app, world, in_app):
    in_app(add_staff_device, world.clinician1, "https://push.example/doc")
    patient = app.test_client()
    login(patient, "alice@patients.example")
    patient.post("/patient/checkin", data=form(pain="9"))
    first = _alert_pushes(in_app)
    assert len(first) == 1
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}, pain="9"))
    second = _alert_pushes(in_app)
    assert len(second) == 2 and any(":emergency:" in k for k in second)
    # A further edit at the same tier queues nothing more.
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}, pain="8"))
    assert _alert_pushes(in_app) == second


def test_a_note_added_after_the_clinic_acknowledged_raises_nothing_new(app, world, in_app):
    """Chest pain, the clinic rings and acknowledges; the patient edits the day only to
    add "the clinic rang me". Before, a second open emergency and a second staff push
    were made for what the clinic had dealt with (a refused form's alert already
    followed this rule). A new answer after that is alerted as usual."""
    from app.models import Alert

    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    (alert_id,) = in_app(lambda: list(db.session.scalars(sa.select(Alert.id))))
    r = doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Rang: sent to A&E"})
    assert r.status_code == 303
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}, note="The clinic rang me"))

    def alerts():
        return [
            (a.level, a.acknowledged_at is not None)
            for a in db.session.scalars(sa.select(Alert).order_by(Alert.id))
        ]

    assert in_app(alerts) == [("emergency", True)]
    patient.post(
        "/patient/checkin",
        data=form(yes={"chest-breathing", "calf-pain-swelling"}, note="Now my calf too"),
    )
    assert in_app(alerts) == [("emergency", True), ("emergency", False)]


def test_pain_easing_after_the_clinic_acknowledged_raises_nothing_new(app, world, in_app):
    """Pain 10 raises a same-day alert, the clinic rings and acknowledges it; the
    patient edits the day to pain 9. The reason's text differs ("Pain 9 out of 10") but
    it is no new answer: no second alert, no second staff push. Pain rising again past
    what was told is alerted."""
    from app.models import Alert

    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(pain="9"))
    (alert_id,) = in_app(lambda: list(db.session.scalars(sa.select(Alert.id))))
    doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Rang: settling"})
    patient.post("/patient/checkin", data=form(pain="8"))

    def count():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Alert))

    assert in_app(count) == 1
    patient.post("/patient/checkin", data=form(pain="10"))
    assert in_app(count) == 2


def test_a_sign_that_went_away_and_came_back_is_alerted_again(app, world, in_app):
    """Chest pain alerted; the clinic rings and acknowledges ("settled"); the patient
    edits the day to "no", and later back to "yes". The sign coming back is news: a new
    open emergency (before, nothing was raised and the patient was told the clinic had
    been alerted). A note-only edit after that raises nothing more."""
    from app.models import Alert

    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    (alert_id,) = in_app(lambda: list(db.session.scalars(sa.select(Alert.id))))
    doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Rang: settled"})
    patient.post("/patient/checkin", data=form())  # gone
    patient.post("/patient/checkin", data=form(yes={"chest-breathing"}))  # back

    def alerts():
        return [
            (a.level, a.acknowledged_at is not None)
            for a in db.session.scalars(sa.select(Alert).order_by(Alert.id))
        ]

    assert in_app(alerts) == [("emergency", True), ("emergency", False)]
    assert len(_alert_pushes(in_app)) == 0  # (no staff device in this test)


def _all_alerts(in_app) -> list[tuple[str, bool]]:
    from app.models import Alert

    return in_app(
        lambda: [
            (a.level, a.acknowledged_at is not None)
            for a in db.session.scalars(sa.select(Alert).order_by(Alert.id))
        ]
    )


def _acknowledge_all(in_app, doc) -> None:
    from app.models import Alert

    ids = in_app(
        lambda: list(db.session.scalars(sa.select(Alert.id).where(Alert.acknowledged_at.is_(None))))
    )
    for alert_id in ids:
        doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Rang the patient"})


def test_pain_moving_within_what_was_told_raises_nothing_new(app, world, in_app):
    """Pain 9 told and acknowledged; edited to 8, then back to 9: the clinic already
    heard of 9, so nothing new (pain past 9, or a sign that came back, would be)."""
    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data=form(pain="9"))
    _acknowledge_all(in_app, doc)
    patient.post("/patient/checkin", data=form(pain="8"))
    patient.post("/patient/checkin", data=form(pain="9"))
    assert _all_alerts(in_app) == [("same_day", True)]


def test_a_sign_back_in_an_edit_too_late_to_store_is_alerted(app, world, in_app, clock):
    """Chest pain acknowledged, then "no" stored; days later an edit kept offline
    brings "yes" again for that day. The day can no longer be changed, but the sign
    still reaches the clinic as news (before, the stored "no" was not read on this path,
    and the acknowledged alert swallowed it)."""
    patient, doc = app.test_client(), app.test_client()
    login(patient, "alice@patients.example")
    login(doc, "doc1@north.example")
    patient.post("/patient/checkin", data={**form(yes={"chest-breathing"}), "day": "3"})
    _acknowledge_all(in_app, doc)
    patient.post("/patient/checkin", data={**form(), "day": "3"})
    clock.advance(days=3)
    login(patient, "alice@patients.example")
    late = {**form(yes={"chest-breathing"}), "day": "3", "client_key": "late-yes"}
    r = patient.post("/patient/checkin", data=late)
    assert r.status_code == 400 and "can no longer be changed" in text_of(r)
    assert _all_alerts(in_app) == [("emergency", True), ("emergency", False)]
