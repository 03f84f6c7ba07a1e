"""Errors under ``/fhir/`` are FHIR OperationOutcomes (issue 20, docs/fhir.md), and a
HEAD of a FHIR address is no export.

Every non-200 answer an EHR can meet (404 for every reason, 405, 400, and 401, 403,
429 and a 500 raised by a probe route) is ``application/fhir+json`` with the right
status, valid for ``fhir.resources``; the 404 body is the same byte for byte whether
the patient is another clinic's, does not exist, or the caller is not staff.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask import abort

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import login

DOC1 = "doc1@north.example"
DOC2 = "doc2@south.example"
ALICE = "alice@patients.example"


def _everything(pid: int) -> str:
    return f"/fhir/Patient/{pid}/$everything"


def _outcome(response, status: int) -> OperationOutcome:
    assert response.status_code == status
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Cache-Control"] == "no-store"
    doc = json.loads(response.get_data(as_text=True))
    parsed = OperationOutcome.model_validate(doc)
    assert parsed.issue and parsed.issue[0].code
    return parsed


def _actions(in_app) -> list[str]:
    return in_app(lambda: list(db.session.scalars(sa.select(AuditEvent.action))))


def test_every_404_is_the_same_operation_outcome(app, client, world):
    login(client, DOC2)
    elsewhere = client.get(_everything(world.patient_a))  # exists, in clinic 1
    missing = client.get(_everything(987_654_321))
    unknown_route = client.get("/fhir/Observation/1")
    client.get("/logout")
    login(client, ALICE)
    as_patient = client.get(_everything(world.patient_a))
    anonymous = app.test_client().get(_everything(world.patient_a))
    bodies = {r.get_data() for r in (elsewhere, missing, unknown_route, as_patient, anonymous)}
    assert len(bodies) == 1
    parsed = _outcome(elsewhere, 404)
    assert parsed.issue[0].code == "not-found"
    assert b"Alice" not in elsewhere.get_data()


def test_a_post_is_405_with_allow(client, world):
    login(client, DOC1)
    r = client.post(_everything(world.patient_a))
    assert _outcome(r, 405).issue[0].code == "not-supported"
    assert "GET" in r.headers["Allow"]


def test_strict_handling_keeps_its_own_words(client, world):
    login(client, DOC1)
    strict = {"Prefer": "handling=strict"}
    r = client.get(_everything(world.patient_a) + "?_count=1", headers=strict)
    assert "_count" in _outcome(r, 400).issue[0].diagnostics


@pytest.mark.parametrize(
    ("status", "code"), [(401, "login"), (403, "forbidden"), (429, "throttled"), (500, "exception")]
)
def test_other_errors_are_operation_outcomes(app, client, world, status, code):
    def probe():
        if status == 500:
            raise RuntimeError("secret internals")
        abort(status)

    app.add_url_rule("/fhir/_probe", "fhir_probe", probe)
    r = client.get("/fhir/_probe")
    parsed = _outcome(r, status)
    assert parsed.issue[0].code == code
    assert b"secret internals" not in r.get_data()
    if status == 500:
        assert parsed.issue[0].severity == "fatal"
        assert "Reference " in parsed.issue[0].diagnostics


def test_pages_outside_fhir_keep_their_html_errors(client, world):
    r = client.get("/clinic/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"


@pytest.mark.parametrize("path", [_everything, lambda pid: f"/clinic/patients/{pid}/fhir.json"])
def test_head_builds_nothing_and_is_no_export(client, world, in_app, path):
    login(client, DOC1)
    r = client.head(path(world.patient_a))
    assert r.status_code == 200
    assert r.mimetype == "application/fhir+json"
    assert r.get_data() == b""
    assert "export" not in _actions(in_app)
    # GET still is an export.
    assert client.get(path(world.patient_a)).status_code == 200
    assert _actions(in_app).count("export") == 1


def test_head_of_another_clinics_patient_is_404_and_refused(client, world, in_app):
    login(client, DOC2)
    r = client.head(_everything(world.patient_a))
    assert r.status_code == 404
    assert r.mimetype == "application/fhir+json"
    assert _actions(in_app).count("refused") == 1 and "export" not in _actions(in_app)


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("?_format=xml", None),
        ("?_format=application/fhir%2Bxml", None),
        ("", "application/fhir+xml"),
        ("", "application/xml, text/xml;q=0.9"),
        ("?_format=ttl", None),
        ("?_format=html", None),
        ("", "application/fhir+json;q=0, application/fhir+xml"),
    ],
)
def test_xml_only_is_406_and_no_export(client, world, in_app, query, accept):
    """The endpoint answered JSON to a client asking for XML only (an adversarial test):
    R4 has a server that cannot give the format say 406. Nothing is exported."""
    login(client, DOC1)
    headers = {"Accept": accept} if accept else {}
    r = client.get(_everything(world.patient_a) + query, headers=headers)
    parsed = _outcome(r, 406)
    assert parsed.issue[0].code == "not-supported"
    assert "export" not in _actions(in_app)


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/fhir+json",
        "application/json",
        # R4 names the version as a parameter; a charset may come too (both were 406).
        "application/fhir+json; fhirVersion=4.0",
        "application/fhir+json; charset=utf-8",
        "application/json; charset=UTF-8",
        "application/fhir+xml;q=0.9, application/fhir+json",
    ],
)
def test_json_or_anything_is_the_bundle(client, world, accept):
    login(client, DOC1)
    headers = {"Accept": accept} if accept else {}
    r = client.get(_everything(world.patient_a), headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    assert json.loads(r.get_data(as_text=True))["resourceType"] == "Bundle"


def test_another_clinics_xml_request_is_404_and_refused_not_406(client, world, in_app):
    login(client, DOC2)
    r = client.get(_everything(world.patient_a), headers={"Accept": "application/fhir+xml"})
    _outcome(r, 404)
    assert _actions(in_app).count("refused") == 1 and "export" not in _actions(in_app)
