"""After ``flask retention run`` erases a record (issue 20 points 4 and 5), nothing in
the database names the patient: not the audit trail (events the patient did, details
changes with before and after, events written in the older style with the name as the
actor), not any other table a backup would copy, and no log line; the audit page still
renders, showing "Erased patient #id", and the hash chain still verifies.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import sqlalchemy as sa

from app.domain.audit_chain import ERASED_TEXT
from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import Patient
from app.models import Role
from app.services import audit as audit_service
from app.services.clinic import retention
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.services.test_retention_run import KEEP_UNTIL
from tests.services.test_retention_run import _close
from tests.services.test_retention_run import _intact
from tests.web.test_patient_edit import details

# Everything that identified Alice at one time or another in this test.
ALICE = ("Alice Marker-A", "alice@patients.example", "Alice Newname", "alice.new@patients.example")
PHONE = "07700 900123"


def _mentions(words: tuple[str, ...]) -> list[str]:
    """Every (table.column, value) in the database holding one of ``words``."""
    found = []
    for table in db.metadata.sorted_tables:
        texts = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text)]
        if not texts:
            continue
        for row in db.session.execute(sa.select(*texts)):
            for column, value in zip(texts, row, strict=True):
                if isinstance(value, str) and any(w.casefold() in value.casefold() for w in words):
                    found.append(f"{table.name}.{column.name}: {value}")
    return found


def _old_style_events(world) -> None:
    """Events as they were written before patients were named by id: the patient as the
    actor by name, and an email in a detail; and one naming Bob, who stays."""
    alice = db.session.get(Patient, world.patient_a)
    bob = db.session.get(Patient, world.patient_b)
    as_alice = SimpleNamespace(id=alice.user_id, clinic_id=world.clinic1, name="Alice Marker-A")
    doc = SimpleNamespace(id=world.clinician1, clinic_id=world.clinic1, name="Doc1")
    audit_service.audit(as_alice, alice.id, "export", "10.0.0.9", "asked for export #1")
    audit_service.audit(doc, alice.id, "invitation emailed", "10.0.0.8", f"to {ALICE[1]}")
    audit_service.audit(doc, bob.id, "invitation emailed", "10.0.0.8", "to bob@patients.example")
    db.session.commit()


def test_erasure_leaves_no_name_anywhere_and_the_chain_verifies(app, world, in_app, caplog):
    caplog.set_level(logging.DEBUG)
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic1), "admin@north.example", Role.CLINIC_ADMIN
        )
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    edit = doc.post(f"/clinic/patients/{world.patient_a}/edit", data=details())
    assert edit.status_code == 303
    doc.get(f"/clinic/patients/{world.patient_a}")  # a "view" event about her
    alice = app.test_client()
    assert login(alice, ALICE[3], "not her password").status_code == 401  # patient acting
    in_app(_old_style_events, world)

    def before():
        texts = db.session.execute(sa.select(AuditEvent.actor_name, AuditEvent.detail)).all()
        joined = " ".join(f"{a} {d}" for a, d in texts)
        # The setup did write her identifiers into the trail (old style and changes).
        assert all(word in joined for word in ALICE) and PHONE in joined
        # A patient acting now is stored by id, not by name.
        failed = db.session.scalars(
            sa.select(AuditEvent.actor_name).where(AuditEvent.action == "signin_failed")
        ).all()
        assert failed == [f"patient #{world.patient_a}"]
        _close(world.patient_a, NOW)
        caplog.clear()  # from here on (the erasure and after), no log line may name her
        assert retention.run(KEEP_UNTIL).erased == 1
        assert _intact()

    in_app(before)

    def after():
        assert _mentions(ALICE + (PHONE,)) == []
        erased = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.detail == ERASED_TEXT)
        ).all()
        # The old-style two, the three changes whose values identify (the time zone
        # change is kept), the failed sign-in she made herself.
        assert sorted(e.action for e in erased) == [
            "change",
            "change",
            "change",
            "export",
            "invitation emailed",
            "signin_failed",
        ]
        kept = db.session.scalars(
            sa.select(AuditEvent.detail).where(
                AuditEvent.patient_id == world.patient_a, AuditEvent.action == "change"
            )
        ).all()
        assert "time zone: Europe/London → Europe/Paris" in kept
        assert {e.patient_id for e in erased} <= {world.patient_a, None}
        assert all(e.seal_salt is None and e.seal for e in erased)
        # Bob's event is his, and stays as it was.
        assert _mentions(("bob@patients.example",)) == [
            "audit_events.detail: to bob@patients.example",
            "users.email: bob@patients.example",
        ]
        erase = db.session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "erase"))
        assert f"{len(erased)} audit events' texts erased" in erase

    in_app(after)
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    admin = app.test_client()
    login(admin, "admin@north.example")
    page = admin.get("/clinic/audit")
    assert page.status_code == 200
    shown = text_of(page)
    assert f"Erased patient #{world.patient_a}" in shown and "Doc1" in shown
    assert not any(word.casefold() in shown.casefold() for word in ALICE + (PHONE,))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # The clinic's exports of her record answer "not found", naming nobody.
    for url in (
        f"/clinic/patients/{world.patient_a}/fhir.json",
        f"/fhir/Patient/{world.patient_a}/$everything",
    ):
        gone = doc.get(url)
        assert gone.status_code == 404, url
        assert not any(w.casefold() in gone.get_data(as_text=True).casefold() for w in ALICE)
    assert not any(word.casefold() in logged.casefold() for word in ALICE + (PHONE,))
