"""Protocols under clinical governance (issue 17 point 3): the protocol pages, sign-off
by a named clinic admin, unsigned versions kept away from new treatments, and patients
keeping the version they were treated on."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Role
from app.models import Treatment
from app.models import User
from app.services import protocols
from tests.conftest import NOW
from tests.conftest import PROTOCOL_DIR
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of

SHIPPED_TEXT = Path(f"{PROTOCOL_DIR}/compression-72h.toml").read_text(encoding="utf-8")
ADMIN = "admin@north.example"
CONFIRM = {"confirm": "yes"}


@pytest.fixture
def v2(world, in_app, tmp_path) -> int:
    """Version 2 of compression-72h in clinic 1 (not signed off) and a clinic admin."""
    edited = tmp_path / "compression-72h.toml"
    edited.write_text(
        SHIPPED_TEXT.replace("interval_weeks_min = 4", "interval_weeks_min = 6").replace(
            "Wear loose, comfortable clothes", "Wear loose clothes"
        ),
        encoding="utf-8",
    )

    def setup() -> int:
        make_staff(db.session.get(Clinic, world.clinic1), ADMIN, Role.CLINIC_ADMIN)
        (result,) = protocols.load(str(edited), "north", NOW)
        assert result.created and result.version == 2
        return _version(world.clinic1, 2)

    return in_app(setup)


def _version(clinic_id: int, number: int, key: str = "compression-72h") -> int:
    return db.session.scalar(
        sa.select(ProtocolVersion.id).where(
            ProtocolVersion.clinic_id == clinic_id,
            ProtocolVersion.key == key,
            ProtocolVersion.version == number,
        )
    )


def _new_patient(client, protocol: int | str, email: str = "dana@patients.example"):
    return client.post(
        "/clinic/patients/new",
        data={
            "name": "Dana New",
            "email": email,
            "timezone": "Europe/London",
            "date": "2026-11-27",
            "time": "14:30",
            "protocol": str(protocol),
        },
    )


def _sign_offs(in_app) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "sign off")
        )
    )


def test_the_list_shows_versions_their_state_and_patients(client, world, v2):
    login(client, "doc1@north.example")
    page = text_of(client.get("/clinic/protocols"))
    assert "72 hours day and night" in page
    assert "Version 2" in page and "Version 1" in page
    assert "Not signed off" in page and "Signed off by Test Sign-off" in page
    # Patients A (treated) and B (booked) of clinic 1 are on version 1.
    assert "1 treated, 1 booked" in page
    assert "New patients get version 1" in page


def test_an_unsigned_version_is_not_offered_and_refused_when_posted(client, world, in_app, v2):
    login(client, "doc1@north.example")
    form = client.get("/clinic/patients/new").get_data(as_text=True)
    v1 = in_app(lambda: _version(world.clinic1, 1))
    assert f'value="{v1}"' in form and f'value="{v2}"' not in form
    r = _new_patient(client, v2)
    assert r.status_code == 400
    assert "version 2 has not been signed off yet" in text_of(r)
    assert 'value="Dana New"' in r.get_data(as_text=True)  # what was typed is kept
    # Booking another session refuses it too, and books nothing.
    before = in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Treatment)))
    r = client.post(
        f"/clinic/patients/{world.patient_a}/sessions",
        data={"date": "2026-12-20", "time": "10:00", "protocol": str(v2)},
        follow_redirects=True,
    )
    assert "has not been signed off yet" in text_of(r)
    after = in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Treatment)))
    assert after == before


def test_admin_signs_off_once_audited_and_then_new_patients_get_it(client, world, in_app, v2):
    login(client, ADMIN)
    page = text_of(client.get(f"/clinic/protocols/versions/{v2}"))
    assert "I have read this version and approve it for patients" in page
    assert "interval_weeks_min = 6" in page  # the whole file is there to read
    # Without the tick: a clear message on the field, nothing signed.
    r = client.post(f"/clinic/protocols/versions/{v2}/sign-off", data={})
    assert r.status_code == 400 and "Tick" in text_of(r)
    assert in_app(lambda: db.session.get(ProtocolVersion, v2).signed_off_at) is None
    r = client.post(f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM)
    assert r.status_code == 303
    signed = in_app(lambda: db.session.get(ProtocolVersion, v2))
    admin_id = in_app(lambda: db.session.scalar(sa.select(User.id).where(User.email == ADMIN)))
    assert signed.signed_off_at == NOW
    assert signed.signed_off_by_name == "Admin" and signed.signed_off_by_id == admin_id
    event = in_app(
        lambda: db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sign off"))
    )
    assert event.actor_id == admin_id and "compression-72h v2" in event.detail
    # A double submit changes nothing and adds no second event.
    r = client.post(
        f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM, follow_redirects=True
    )
    assert "already signed off by Admin" in text_of(r)
    assert _sign_offs(in_app) == 1
    assert in_app(lambda: db.session.get(ProtocolVersion, v2).signed_off_at) == NOW
    # Now offered, and a new patient gets it.
    assert f'value="{v2}"' in client.get("/clinic/patients/new").get_data(as_text=True)
    assert _new_patient(client, v2).status_code == 200


def test_patients_keep_the_version_they_were_treated_on(client, world, in_app, v2):
    def pinned() -> dict[int, int]:
        rows = db.session.execute(
            sa.select(Treatment.patient_id, ProtocolVersion.version).join(
                ProtocolVersion, Treatment.protocol_version_id == ProtocolVersion.id
            )
        ).all()
        return dict(rows)

    before = in_app(pinned)
    assert before[world.patient_a] == 1 and before[world.patient_b] == 1
    login(client, ADMIN)
    client.post(f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM)
    assert in_app(lambda: db.session.get(ProtocolVersion, v2).signed_off_at) is not None
    assert in_app(pinned) == before
    # And the booked patient's page still shows the version they were booked on.
    page = text_of(client.get(f"/clinic/patients/{world.patient_b}"))
    assert "(v1)" in page and "(v2)" not in page.split("Book another session")[0]


def test_a_clinician_reads_but_cannot_sign_off(client, world, in_app, v2):
    login(client, "doc1@north.example")
    page = text_of(client.get(f"/clinic/protocols/versions/{v2}"))
    assert "not signed off yet" in page and "Sign off version 2" not in page
    r = client.post(f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM)
    assert r.status_code == 404
    assert in_app(lambda: db.session.get(ProtocolVersion, v2).signed_off_at) is None
    assert _sign_offs(in_app) == 0


def test_another_clinics_protocols_are_not_found(client, world, in_app, v2):
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic2), "boss@south.example", Role.CLINIC_ADMIN
        )
    )
    login(client, "boss@south.example")
    assert client.get(f"/clinic/protocols/versions/{v2}").status_code == 404
    assert client.post(f"/clinic/protocols/versions/{v2}/sign-off", data=CONFIRM).status_code == 404
    assert client.get("/clinic/protocols/compression-72h/compare?old=1&new=2").status_code == 404
    assert "Not signed off" not in text_of(client.get("/clinic/protocols"))
    assert in_app(lambda: db.session.get(ProtocolVersion, v2).signed_off_at) is None


def test_patients_get_404_on_the_protocol_pages(client, world, v2):
    login(client, "alice@patients.example")
    assert client.get("/clinic/protocols").status_code == 404
    assert client.get(f"/clinic/protocols/versions/{v2}").status_code == 404


def test_compare_shows_the_change_in_words_and_lines(client, world, v2):
    login(client, "doc1@north.example")
    r = client.get("/clinic/protocols/compression-72h/compare?old=1&new=2")
    assert r.status_code == 200
    page = text_of(r)
    assert "0 added, 0 removed, 2 changed" in page
    assert "Course of sessions" in page
    assert "Was: 4 Now: 6" in page
    assert "Was: Wear loose, comfortable clothes Now: Wear loose clothes" in page
    assert "Removed: − interval_weeks_min = 4" in page
    assert "Added: + interval_weeks_min = 6" in page


@pytest.mark.parametrize(
    "query",
    [
        "old=1&new=99",
        "old=x&new=2",
        "old=99999999999999999999&new=2",
        "old=-1&new=2",
        "old=1&new=",
    ],
)
def test_compare_with_odd_input_is_not_found_never_an_error(client, world, v2, query):
    login(client, "doc1@north.example")
    assert client.get(f"/clinic/protocols/compression-72h/compare?{query}").status_code == 404


def test_compare_by_default_shows_the_newest_version_against_the_one_before(client, world, v2):
    login(client, "doc1@north.example")
    page = text_of(client.get("/clinic/protocols/compression-72h/compare"))
    assert "version 1 compared with version 2" in page and "Was: 4 Now: 6" in page
    only = text_of(client.get("/clinic/protocols/compression-24h/compare"))
    assert "version 1 compared with version 1" in only and "The two files are the same" in only


def test_compare_with_an_odd_key_is_not_found(client, world, v2):
    login(client, "doc1@north.example")
    for key in ["nope", "%00", "x" * 5000, "%C3%A9"]:
        assert client.get(f"/clinic/protocols/{key}/compare?old=1&new=2").status_code == 404
