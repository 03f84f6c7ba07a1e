"""The clinic's FHIR download and ``GET /fhir/Patient/<id>/$everything`` (issue 20
point 2): staff of the patient's clinic only (everyone else 404, nobody signed in 404
on the API and a sign-in redirect on the clinic page), audited, never cached, the
file named without the patient's name, and the button on the patient page.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.operationoutcome import OperationOutcome

from app.extensions import db
from app.models import AuditEvent
from app.models import CheckIn
from tests.conftest import is_postgres
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_fhir_export import alert_sent_meanwhile
from tests.services.test_fhir_export import check_bundle
from tests.services.test_fhir_export import full_record
from tests.services.test_fhir_export import of_type

DOC1 = "doc1@north.example"
DOC2 = "doc2@south.example"
ALICE = "alice@patients.example"


def _download(pid: int) -> str:
    return f"/clinic/patients/{pid}/fhir.json"


def _everything(pid: int) -> str:
    return f"/fhir/Patient/{pid}/$everything"


def _events(in_app, action: str) -> list[tuple]:
    return in_app(
        lambda: db.session.execute(
            sa.select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).all()
    )


@pytest.fixture
def full(world, in_app) -> int:
    return in_app(full_record, world.clinic1, world.clinician1, 3, "Zoë O’Brien-李")


def test_the_download_is_a_valid_bundle_saved_without_the_name(client, world, in_app, full):
    login(client, DOC1)
    r = client.get(_download(full))
    assert r.status_code == 200
    assert r.mimetype == "application/fhir+json"
    assert r.headers["Cache-Control"] == "no-store"
    disposition = r.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="patient-{full}-fhir.json"'
    bundle = json.loads(r.get_data(as_text=True))
    assert bundle["type"] == "collection"
    by_url = check_bundle(bundle)
    assert of_type(by_url, "Patient")[0]["name"] == [{"text": "Zoë O’Brien-李"}]
    # The clinic's own copy keeps its acknowledgement note.
    assert "CLINIC-ONLY-NOTE" in r.get_data(as_text=True)
    assert _events(in_app, "export") == [(world.clinician1, full, "FHIR download")]


def test_everything_is_the_same_record_as_a_searchset(client, world, in_app, full):
    login(client, DOC1)
    r = client.get(_everything(full))
    assert r.status_code == 200
    assert r.mimetype == "application/fhir+json"
    assert r.headers["Cache-Control"] == "no-store"
    assert "Content-Disposition" not in r.headers
    bundle = r.get_json(force=True)
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    by_url = check_bundle(bundle)
    modes = {e["resource"]["resourceType"]: e["search"]["mode"] for e in bundle["entry"]}
    assert modes["Patient"] == "match" and modes["Procedure"] == "include"
    assert len(of_type(by_url, "QuestionnaireResponse")) == 4
    # A client that escapes the "$" reaches the same operation.
    assert client.get(f"/fhir/Patient/{full}/%24everything").status_code == 200
    assert _events(in_app, "export") == [(world.clinician1, full, "FHIR $everything")] * 2


def test_a_patient_with_no_data(client, world, in_app):
    login(client, DOC1)
    r = client.get(_everything(world.patient_b))
    assert r.status_code == 200
    by_url = check_bundle(r.get_json(force=True))
    assert of_type(by_url, "Patient")[0]["name"] == [{"text": "Bob Marker-B"}]
    assert not of_type(by_url, "QuestionnaireResponse")


@pytest.mark.parametrize("path", [_download, _everything])
def test_another_clinics_clinician_gets_404_and_it_is_audited(client, world, in_app, path):
    login(client, DOC2)
    r = client.get(path(world.patient_a))
    assert r.status_code == 404
    assert b"Alice" not in r.get_data()
    refused = _events(in_app, "refused")
    assert refused == [(world.clinician2, None, f"export patient #{world.patient_a}")]
    assert _events(in_app, "export") == []


@pytest.mark.parametrize("path", [_download, _everything])
def test_a_patient_gets_404_even_for_their_own_record(client, world, path):
    login(client, ALICE)
    assert client.get(path(world.patient_a)).status_code == 404


@pytest.mark.parametrize("path", [_download, _everything])
def test_a_patient_that_does_not_exist_is_404(client, world, path):
    login(client, DOC1)
    assert client.get(path(987_654_321)).status_code == 404


def test_nobody_signed_in_gets_404_from_the_api_and_sign_in_from_the_clinic(client, world):
    r = client.get(_everything(world.patient_a))
    assert r.status_code == 404 and b"Alice" not in r.get_data()
    r = client.get(_download(world.patient_a))
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_the_patient_page_offers_the_download(client, world):
    login(client, DOC1)
    page = client.get(f"/clinic/patients/{world.patient_a}")
    assert "Download FHIR (JSON)" in text_of(page)
    assert _download(world.patient_a) in page.get_data(as_text=True)


def test_a_lone_surrogate_in_stored_answers_is_no_500(client, world, in_app, full):
    """Answers are stored as JSON, which escapes a lone surrogate (a broken emoji from
    an offline replay) as ``\\ud83d``; read back, it cannot be written as UTF-8. The
    export still answers, with U+FFFD in its place."""

    def garble():
        for c in db.session.scalars(sa.select(CheckIn).where(CheckIn.patient_id == full)):
            c.answers = {**c.answers, "note": "broken \ud83d emoji"}
        db.session.commit()

    in_app(garble)
    login(client, DOC1)
    r = client.get(_everything(full))
    assert r.status_code == 200
    by_url = check_bundle(json.loads(r.get_data(as_text=True)))
    notes = {
        i["answer"][0]["valueString"]
        for q in of_type(by_url, "QuestionnaireResponse")
        for i in q.get("item", [])
        if i["linkId"] == "note"
    }
    assert "broken \ufffd emoji" in notes


def test_an_alert_sent_during_the_download_is_all_in_or_all_out(client, world, in_app, full):
    """The route reads the record in one snapshot on PostgreSQL: a check-in and its
    alert committed meanwhile are left for the next export. Elsewhere the alert may be
    in without its check-in, citing nothing the bundle lacks."""
    login(client, DOC1)
    with alert_sent_meanwhile(in_app(lambda: db.engine), full, world.clinic1) as fired:
        r = client.get(_everything(full))
    assert fired and r.status_code == 200
    by_url = check_bundle(r.get_json(force=True))
    late = [i for i in of_type(by_url, "DetectedIssue") if "meanwhile" in i["detail"]]
    assert late == [] if is_postgres() else len(late) == 1
    # The next request reads (and writes) as usual after the read-only snapshot.
    assert client.get(_everything(full)).status_code == 200
    assert len(_events(in_app, "export")) == 2


def test_unsupported_parameters_are_ignored_and_left_out_of_the_self_link(client, world, full):
    """``_since``, ``_count`` and ``_type`` are not supported: the whole record comes
    back, and the self link (R4 search: only the parameters used) says none was used;
    a client asking for strict handling gets a 400 OperationOutcome, never a 500."""
    login(client, DOC1)
    asked = _everything(full) + "?_since=2026-01-01T00:00:00Z&_count=abc&_type=Media"
    r = client.get(asked)
    assert r.status_code == 200
    bundle = r.get_json(force=True)
    check_bundle(bundle)
    assert bundle["link"] == [
        {"relation": "self", "url": f"http://localhost/fhir/Patient/{full}/$everything"}
    ]
    assert len(of_type(check_bundle(bundle), "QuestionnaireResponse")) == 4
    strict = client.get(asked, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.mimetype == "application/fhir+json"
    problem = OperationOutcome.model_validate(strict.get_json(force=True))
    assert problem.issue[0].code == "not-supported"
    # Without parameters, strict handling changes nothing.
    plain = client.get(_everything(full), headers={"Prefer": "handling=strict"})
    assert plain.status_code == 200
