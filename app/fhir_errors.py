"""Every error under ``/fhir/`` as a FHIR ``OperationOutcome`` (docs/fhir.md, issue 20).

An EHR calling ``$everything`` reads ``application/fhir+json``; the app's friendly HTML
pages mean nothing to it. Rather than teach each error handler (404, 405, the limiter's
429, an unexpected 500...) about FHIR, one ``after_request`` hook rewrites the body of
any 4xx or 5xx answer under ``/fhir/`` into an OperationOutcome with the same status.
It runs after every handler, Flask's routing errors and Flask-Limiter's own handler
included, so no error path can slip through as HTML; headers a handler set (``Allow``
on a 405, ``Retry-After`` on a 429) are kept.

The words are fixed per status and never the handler's own message: a 404 for a
patient of another clinic, for a patient who does not exist and for a caller who is not
staff must be byte for byte the same, or the body would say whether the record exists.
A 500 carries the logged reference (``g.error_reference``, set by app/errors.py) and
nothing else. A view's own OperationOutcome (already ``application/fhir+json``) is
kept as it is. Redirects (3xx) are left alone: they are not errors.
"""

from __future__ import annotations

import json

from flask import Flask
from flask import Response
from flask import g
from flask import request

from app.domain.fhir import outcome

FHIR_JSON = "application/fhir+json"
PREFIX = "/fhir/"

# R4 IssueType codes (http://hl7.org/fhir/R4/valueset-issue-type.html) by status.
_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    410: "deleted",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}
# One sentence per status, the same whatever the cause (see the module docstring).
_WORDS = {
    400: "The request is not valid.",
    401: "Sign in as a member of the patient's clinic.",
    403: "This request is not allowed.",
    404: "No such resource.",
    405: "Only GET (and HEAD) is supported here.",
    406: "Only application/fhir+json is offered.",
    410: "This resource is gone.",
    413: "The request is too large.",
    415: "This content type is not supported.",
    429: "Too many requests: wait, then try again.",
}


def is_fhir_request() -> bool:
    """Whether the request is for the FHIR API (``/fhir`` and below)."""
    return request.path == PREFIX.rstrip("/") or request.path.startswith(PREFIX)


def outcome_body(status: int, reference: str = "") -> bytes:
    """The OperationOutcome for an error ``status``, as UTF-8 JSON."""
    if status >= 500:
        words = "The server could not answer."
        if reference:
            words += f" Reference {reference}."
        doc = outcome("exception", words)
        doc["issue"][0]["severity"] = "fatal"  # type: ignore[index]
    else:
        doc = outcome(_CODES.get(status, "processing"), _WORDS.get(status, "Request failed."))
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def as_outcome(response: Response) -> Response:
    """An error answer under /fhir/ rewritten as an OperationOutcome; anything else kept."""
    if response.status_code < 400 or not is_fhir_request():
        return response
    if response.mimetype == FHIR_JSON:
        return response  # a view's own OperationOutcome (e.g. Prefer: handling=strict)
    response.set_data(outcome_body(response.status_code, g.get("error_reference", "")))
    response.headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    # Anything a handler added about the HTML page it made no longer describes the body.
    response.headers.pop("Content-Disposition", None)
    return response


def install(app: Flask) -> None:
    """Register the rewrite (after the other hooks so it sees their final answer)."""
    app.after_request(as_outcome)
