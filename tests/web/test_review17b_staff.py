"""Review of the staff pages (issue 17 point 2): roles posted by hand, other clinics'
and patients' accounts, and an admin acting on a page loaded before they were demoted
or deactivated by another admin (the change must be refused under the clinic's lock)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Role
from app.models import User
from app.services.accounts import staff_changes
from app.services.errors import NotFound
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_staff_admin import _admin
from tests.web.test_staff_admin import _user
from tests.web.test_staff_admin import admin  # noqa: F401 - clinic 1's signed-in admin


def _audit_count(in_app) -> int:
    return in_app(lambda: db.session.scalar(sa.select(sa.func.count(AuditEvent.id))))


@pytest.mark.parametrize(
    "role", ["patient", "clinic_admin ", " clinician", "CLINIC_ADMIN", "admin", "", "\x00"]
)
def test_a_role_posted_by_hand_is_refused_and_changes_nothing(admin, world, in_app, role):  # noqa: F811
    before = _audit_count(in_app)
    r = admin.post(f"/clinic/staff/{world.clinician1}/role", data={"role": role})
    assert r.status_code == 400
    assert "Choose clinician or clinic admin." in text_of(r)
    assert _user(in_app, "doc1@north.example").role == Role.CLINICIAN
    assert _audit_count(in_app) == before


@pytest.mark.parametrize("role", ["patient", "clinic_admin ", "owner"])
def test_inviting_with_a_role_posted_by_hand_is_refused(admin, in_app, role):  # noqa: F811
    r = admin.post(
        "/clinic/staff", data={"name": "Eve", "email": "eve@north.example", "role": role}
    )
    assert r.status_code == 400
    assert in_app(lambda: db.session.scalar(sa.select(User).where(User.name == "Eve"))) is None


@pytest.mark.parametrize("action", ["role", "deactivate", "reactivate", "link"])
def test_patients_and_other_clinics_staff_are_not_found(admin, world, in_app, action):  # noqa: F811
    patient_user = in_app(
        lambda: db.session.scalar(sa.select(User.id).where(User.email == "alice@patients.example"))
    )
    for target in (patient_user, world.clinician2, 2**31 - 1):
        r = admin.post(f"/clinic/staff/{target}/{action}", data={"role": "clinic_admin"})
        assert r.status_code == 404, (target, action)
    assert _user(in_app, "alice@patients.example").role == Role.PATIENT
    assert _user(in_app, "doc2@south.example").is_active


@pytest.mark.parametrize("demoted_how", ["role", "deactivate"])
def test_an_admin_demoted_meanwhile_cannot_change_staff(app, world, in_app, demoted_how):
    """Admin A's request read A as an admin; admin B demoted (or deactivated) A before
    A's change took the clinic's lock. The change is refused: A is no admin any more."""
    a = _admin(in_app, world, "a@north.example")
    _admin(in_app, world, "b@north.example")

    def stale_principal():
        user = db.session.get(User, a)
        from app.principal import ClinicInfo
        from app.principal import Principal

        c = user.clinic
        clinic = ClinicInfo(
            c.id, c.name, c.phone, c.emergency_number, c.opening_hours, c.out_of_hours, c.timezone
        )
        return Principal(user.id, user.email, user.name, user.role, clinic, None, 0, "stale")

    principal = in_app(stale_principal)
    assert principal.is_admin
    b = app.test_client()
    assert login(b, "b@north.example").status_code == 302
    assert b.post(f"/clinic/staff/{a}/{demoted_how}", data={"role": "clinician"}).status_code == 303

    def act():
        staff_changes.set_role(principal, world.clinician1, "clinic_admin", "127.0.0.1")

    with pytest.raises(NotFound):
        in_app(act)
    assert _user(in_app, "doc1@north.example").role == Role.CLINICIAN

    def deactivate():
        staff_changes.deactivate(principal, world.clinician1, NOW, "127.0.0.1")

    with pytest.raises(NotFound):
        in_app(deactivate)
    assert _user(in_app, "doc1@north.example").is_active
