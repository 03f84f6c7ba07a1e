"""A clinician who is not an admin, forging an admin's write, is refused and audited
(found by an adversarial test: settings, closures, the retention policy, protocol
sign-off and a staff member's second-factor reset answered 404 with no audit row, while
the staff page's own writes were audited). Another clinic's admin reading or signing off
this clinic's protocol version is audited too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import AuditEvent
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Role
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_staff

DOC1 = "doc1@north.example"  # a clinician of clinic 1, not an admin


def _refusals() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.detail)
            .where(AuditEvent.action == "refused")
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def ids(world, in_app):
    def make():
        version = db.session.scalar(
            sa.select(ProtocolVersion.id).where(ProtocolVersion.clinic_id == world.clinic1)
        )
        closure = AccountClosure(
            patient_id=world.patient_a, clinic_id=world.clinic1, requested_at=NOW
        )
        db.session.add(closure)
        db.session.commit()
        return {"version": version, "closure": closure.id}

    return in_app(make)


def _signed(in_app, version: int):  # noqa: ANN001, ANN202
    return in_app(lambda: db.session.get(ProtocolVersion, version).signed_off_by_id)


@pytest.mark.parametrize(
    ("path", "data", "said"),
    [
        ("/clinic/settings", {"name": "Taken"}, "change the clinic settings"),
        ("/clinic/closures/{closure}/complete", {"confirm": "yes"}, "complete closure #"),
        ("/clinic/closures/{closure}/withdraw", {}, "withdraw closure #"),
        ("/clinic/closures/policy", {"years": "1", "photos": "delete"}, "retention policy"),
        ("/clinic/protocols/versions/{version}/sign-off", {"confirm": "yes"}, "sign off"),
        ("/clinic/staff/{doc}/second-factor/reset", {}, "reset second factor of user #"),
    ],
)
def test_a_non_admins_forged_write_is_refused_and_audited(
    client, world, in_app, ids, path, data, said
):
    login(client, DOC1)
    url = path.format(doc=world.clinician1, **ids)
    signed_before = _signed(in_app, ids["version"])
    r = client.post(url, data=data)
    assert r.status_code == 404, (url, r.status_code)
    refused = in_app(_refusals)
    assert any(said in d and "clinic admins only" in d for d in refused), refused
    # Nothing was done: the closure is still open, the version not signed off.
    closure = in_app(lambda: db.session.get(AccountClosure, ids["closure"]))
    assert closure is not None and closure.completed_at is None  # withdrawn: the row goes
    assert _signed(in_app, ids["version"]) == signed_before


def test_another_clinics_admin_is_audited_on_this_clinics_protocol_version(app, world, in_app, ids):
    def other_admin():
        make_staff(db.session.get(Clinic, world.clinic2), "admin2@south.example", Role.CLINIC_ADMIN)

    in_app(other_admin)
    admin2 = app.test_client()
    login(admin2, "admin2@south.example")
    version = ids["version"]
    signed_before = _signed(in_app, version)
    assert admin2.get(f"/clinic/protocols/versions/{version}").status_code == 404
    r = admin2.post(f"/clinic/protocols/versions/{version}/sign-off", data={"confirm": "yes"})
    assert r.status_code in (303, 404)  # a fresh sign-in may be asked first (A9)
    refused = in_app(_refusals)
    assert f"read protocol version #{version}" in refused
    assert _signed(in_app, version) == signed_before
