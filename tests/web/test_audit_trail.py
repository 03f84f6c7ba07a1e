"""Audit records for the clinic pages outside the diary: the patient list, the record
treatment page, and every refused attempt on another clinic's patient or session."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Treatment
from app.models import TreatmentStatus
from tests.conftest import login


def _events(in_app):
    return in_app(
        lambda: [
            (e.actor_name, e.patient_id, e.action, e.detail, e.address)
            for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]
    )


def test_another_clinics_patient_and_sessions_are_404_and_audited(app, world, in_app):
    cara_session = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_c)
        )
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    pid, tid = world.patient_c, cara_session
    attempts = [
        ("post", f"/clinic/patients/{pid}/invitation", {}, f"invite patient #{pid}"),
        (
            "post",
            f"/clinic/patients/{pid}/sessions",
            {"date": "2027-01-05", "time": "10:00"},
            f"book a session for patient #{pid}",
        ),
        (
            "post",
            f"/clinic/sessions/{tid}/reschedule",
            {"date": "2027-01-05", "time": "10:00"},
            f"move session #{tid}",
        ),
        ("post", f"/clinic/sessions/{tid}/cancel", {}, f"cancel session #{tid}"),
        ("get", f"/clinic/sessions/{tid}/record", None, f"record session #{tid}"),
        ("post", f"/clinic/sessions/{tid}/record", {}, f"record session #{tid}"),
    ]
    for method, url, data, detail in attempts:
        before = len(_events(in_app))
        r = getattr(doc, method)(url, data=data) if data is not None else doc.get(url)
        assert r.status_code == 404, url
        new = _events(in_app)[before:]
        assert [(e[2], e[3]) for e in new] == [("refused", detail)], url
        assert new[0][1] is None and new[0][4] == "127.0.0.1"  # no patient named; from where
    # Nothing of Cara's changed.
    status = in_app(lambda: db.session.get(Treatment, cara_session).status)
    assert status == TreatmentStatus.DONE


def test_the_patient_list_and_the_record_page_are_audited_views(app, world, in_app):
    bob_session = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    assert doc.get("/clinic/patients").status_code == 200
    listed = [e for e in _events(in_app) if e[3] == "patient list"]
    assert sorted(e[1] for e in listed) == sorted([world.patient_a, world.patient_b])
    assert {e[2] for e in listed} == {"view"}  # Cara (another clinic) is not listed
    assert doc.get(f"/clinic/sessions/{bob_session}/record").status_code == 200
    assert _events(in_app)[-1][1:4] == (world.patient_b, "view", "record treatment form")
