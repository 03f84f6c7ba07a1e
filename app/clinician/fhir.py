"""The patient's record as FHIR R4 (issue 20 point 2), for the clinic.

- ``GET /clinic/patients/<id>/fhir.json`` on the clinician blueprint: the "Download FHIR
  (JSON)" button of the patient page, a ``collection`` Bundle saved as a file.
- ``GET /fhir/Patient/<id>/$everything`` on the ``fhir`` blueprint: the integration
  point for the clinic's EHR (docs/fhir.md), the same record as the operation's
  ``searchset``. Signed-in staff of the patient's clinic only; anyone else, signed in or
  not, gets 404, so the address reveals nothing.

A HEAD of either is answered after the access check alone: no bundle is built, and no
``export`` event is written, since nothing left the server.

Every error under ``/fhir/`` is an OperationOutcome (``app/fhir_errors.py``).

Both are audited by the service (``app/services/export/fhir.py``) and never stored by
a cache (``no-store``; the service worker caches no such response either).
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.domain.fhir import outcome
from app.services.export import fhir
from app.web import client_address
from app.web import public_url

fhir_bp = Blueprint("fhir", __name__)
FHIR_JSON = "application/fhir+json"


@fhir_bp.before_request
def require_staff():
    """404 rather than a sign-in page: an API client has no use for a redirect, and the
    address must not say whether there is anything behind it."""
    if not current_user.is_authenticated or not current_user.is_clinician:
        abort(404)


@fhir_bp.get("/Patient/<int:patient_id>/$everything")
def everything(patient_id: int):
    # No parameter is supported (_since, _count, _type...): each is ignored, as R4 search
    # has servers do, and left out of the self link; a client that asks for strict
    # handling (Prefer: handling=strict) is told instead.
    if request.args and "handling=strict" in request.headers.get("Prefer", "").replace(" ", ""):
        words = "No parameter (such as _since, _count or _type) is supported on $everything."
        return _json(outcome("not-supported", words), status=400)
    if not _takes_json():
        # R4: a server that cannot give the asked-for format answers 406, not JSON that
        # a client reading XML would misparse (found by an adversarial test). Access is
        # checked first: another clinic's record is a 404, audited, whatever the format.
        fhir.clinic_head(current_user, patient_id, client_address())
        words = "Only JSON (application/fhir+json) is offered here."
        return _json(outcome("not-supported", words), status=406)
    if request.method == "HEAD":
        return _head(patient_id)
    address = public_url("fhir.everything", patient_id=patient_id)
    actor = current_user
    bundle = fhir.clinic_bundle(actor, patient_id, client_address(), now(), everything=address)
    return _json(bundle)


@bp.get("/patients/<int:patient_id>/fhir.json")
def patient_fhir(patient_id: int):
    if request.method == "HEAD":
        return _head(patient_id)
    bundle = fhir.clinic_bundle(current_user, patient_id, client_address(), now())
    response = _json(bundle)
    # The file name holds the record's id only: a name in Downloads is seen by anyone
    # who looks at the computer.
    name = f"patient-{patient_id}-fhir.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# Media types that take this endpoint's JSON, parameters aside ("application/fhir+json;
# fhirVersion=4.0" is how R4 clients name the version).
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/*", "*/*"})
JSON_FORMATS = frozenset({"json", FHIR_JSON, "application/json"})


def _takes_json() -> bool:
    """Whether the client takes JSON: a ``_format`` naming JSON, else an Accept header
    with a JSON (or wildcard) type at a quality above 0, or no Accept at all."""
    asked = request.args.get("_format", "").strip().lower()
    if asked:
        return asked.split(";")[0].strip() in JSON_FORMATS
    accept = request.accept_mimetypes
    if not accept:
        return True
    return any(q > 0 and v.split(";")[0].strip().lower() in JSON_TYPES for v, q in accept)


def _head(patient_id: int) -> Response:
    """HEAD: Flask would run the GET view, building the bundle and auditing an export
    that sent nothing. Check access (a 404 as for GET), then answer the headers only."""
    fhir.clinic_head(current_user, patient_id, client_address())
    return _json({}, body=False)


def _json(bundle: dict[str, object], status: int = 200, *, body: bool = True) -> Response:
    text = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")) if body else ""
    response = Response(text, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
