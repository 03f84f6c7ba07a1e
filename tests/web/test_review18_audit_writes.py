"""Review of issue 18 point 1: each staff write's audit event names the right clinic,
the client's address, and, for a write about one patient, that patient.

``tests/web/test_audit_every_write.py`` checks that each POST route writes an event by
its actor whose action names it; it does not look at the event's other columns, so an
event filed under no clinic, no patient or the wrong address would pass there.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from tests.web.test_audit_every_write import RECIPES
from tests.web.test_audit_every_write import Ctx
from tests.web.test_audit_every_write import _admin
from tests.web.test_audit_every_write import _last_event

# Routes whose event is about patient A (the recipes' patient); the others are about
# a session of patient B, or about no patient (settings, staff, devices, protocols).
ABOUT_A = {
    "clinician.edit_patient",
    "clinician.set_phone",
    "clinician.book_session",
    "clinician.new_invitation",
    "clinician.acknowledge",
    "clinician.mark_reviewed",
    "clinician.review_photo",
    "clinician.review_day_photos",
    "clinician.comment",
    "clinician.discharge",
    "clinician.reopen",
    "clinician.save_clearance",
    "clinician.complete_closure",  # issue 20 point 4: Alice's account closed
    "clinician.record_closure_request",  # Alice asked by phone; an admin records it
    "clinician.withdraw_closure",  # Alice changed her mind
}
ABOUT_B = {"clinician.reschedule", "clinician.cancel", "clinician.record"}
ABOUT_NEW = {"clinician.new_patient"}


@pytest.mark.parametrize("endpoint", sorted(RECIPES))
def test_each_staff_write_is_filed_under_clinic_patient_and_address(endpoint, app, world, in_app):
    recipe = RECIPES[endpoint]
    admin_id = _admin(in_app, world)
    ctx = Ctx(app, world, in_app)
    if recipe.setup is not None:
        recipe.setup(ctx)
    path = recipe.path(ctx)
    actor = admin_id if recipe.who == "admin" else world.clinician1
    before = _last_event(in_app)
    response = recipe.post(
        ctx.staff(recipe.who),
        path,
        ctx,
    )
    assert response.status_code in (200, 302, 303)

    def load() -> list[AuditEvent]:
        rows = list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.id > before, AuditEvent.actor_id == actor)
            )
        )
        db.session.expunge_all()
        return rows

    events = [e for e in in_app(load) if re.search(recipe.names, f"{e.action}: {e.detail}")]
    assert events, endpoint
    for event in events:
        assert event.clinic_id == world.clinic1, (endpoint, event.clinic_id)
        assert event.address == "127.0.0.1", (endpoint, event.address)
        if endpoint in ABOUT_A:
            assert event.patient_id == world.patient_a, (endpoint, event.patient_id)
        elif endpoint in ABOUT_B:
            assert event.patient_id == world.patient_b, (endpoint, event.patient_id)
        elif endpoint in ABOUT_NEW:
            assert event.patient_id not in (None, world.patient_a, world.patient_b)
        else:
            assert event.patient_id is None, (endpoint, event.patient_id)
