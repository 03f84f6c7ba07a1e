"""Review of the patient lifecycle (issue 17 point 4), tried the way the world will:
two tabs at once, a clinician working on a discharged patient, the dispatcher racing a
discharge, and a time-zone change across a clock change with the dispatcher down."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.models import User
from app.services.clinic import lifecycle
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_patient_edit import DOC1
from tests.web.test_patient_edit import details

BOB = "bob@patients.example"


def _email_taken_meanwhile(monkeypatch, world) -> None:
    """The other tab: between this form's uniqueness check and its write, another
    clinician saves Bob's record with the same new email (committed on its own
    connection, as another worker would)."""
    real = lifecycle._check_email

    def check_then_lose_the_race(text: str, user_id: int) -> str:
        email = real(text, user_id)  # passes: nobody has the address yet
        bob = db.session.get(Patient, world.patient_b).user_id
        with db.engine.begin() as other_tab:
            other_tab.execute(sa.update(User).where(User.id == bob).values(email=email))
        return email

    monkeypatch.setattr(lifecycle, "_check_email", check_then_lose_the_race)


def _alice(world) -> tuple[str, str, str]:
    p = db.session.get(Patient, world.patient_a)
    return p.user.name, p.user.email, p.timezone


def _changes() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "change")
    )


def test_two_tabs_saving_the_same_new_email_with_a_new_time_zone_get_a_message(
    client, world, in_app, monkeypatch
):
    """The time-zone change re-plans reminders, which reads the database and so flushed
    the new email before the write was guarded: the unique constraint was a 500."""
    _email_taken_meanwhile(monkeypatch, world)
    login(client, DOC1)
    typed = details(email="shared@patients.example", timezone="America/New_York")
    r = client.post(f"/clinic/patients/{world.patient_a}/edit", data=typed)
    assert r.status_code == 400
    assert "There is already an account with this email." in text_of(r)
    html = r.get_data(as_text=True)
    assert 'id="email-error"' in html
    assert 'value="shared@patients.example"' in html and 'value="Alice Newname"' in html
    # Nothing of this form was saved, and nothing was audited as changed.
    assert in_app(_alice, world) == ("Alice Marker-A", "alice@patients.example", "Europe/London")
    assert in_app(_changes) == 0


def test_two_tabs_saving_the_same_new_email_alone_get_a_message(client, world, in_app, monkeypatch):
    _email_taken_meanwhile(monkeypatch, world)
    login(client, DOC1)
    typed = details(email="shared@patients.example", timezone="Europe/London")
    r = client.post(f"/clinic/patients/{world.patient_a}/edit", data=typed)
    assert r.status_code == 400
    assert "There is already an account with this email." in text_of(r)
    assert in_app(_alice, world)[1] == "alice@patients.example"
    assert in_app(_changes) == 0
