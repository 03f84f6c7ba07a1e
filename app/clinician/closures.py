"""The clinic admin's account closures page (issue 20 point 4): the requests patients
made, completing one, and the clinic's retention policy.

Registered on the clinician blueprint (``require_staff`` has run); the service answers
404 for a clinician who is not an admin, as the settings page does, and an admin needs
a fresh sign-in ("Confirm it's you"): completing removes an account for good.
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.domain.retention import PHOTO_POLICIES
from app.freshness import stale_response
from app.services.clinic import closure
from app.services.clinic import closure_requests
from app.services.errors import Invalid
from app.web import client_address

_KEEP = 20  # a field longer than any sensible value is cut before it is shown again


def _stale():  # noqa: ANN202 - a response or None
    if current_user.is_admin:
        return stale_response(url_for("clinician.closures"))
    return None


@bp.get("/closures")
def closures():
    if stale := _stale():
        return stale
    page = closure.closures_page(current_user, client_address())
    return render_template(
        "clinician/closures.html", page=page, errors={}, typed=None, photo_policies=PHOTO_POLICIES
    )


@bp.post("/closures/<int:closure_id>/complete")
def complete_closure(closure_id: int):
    if stale := _stale():
        return stale
    confirmed = request.form.get("confirm") == "yes"
    try:
        done = closure.complete(
            current_user, closure_id, now(), client_address(), confirmed=confirmed
        )
    except Invalid as exc:
        flash(exc.message, "error")
        return redirect(url_for("clinician.closures"), 303)
    flash(f"Account closed. {done.patient_name}'s record is kept until the date shown.", "success")
    return redirect(
        url_for("clinician.patient", patient_id=done.patient_id, _anchor="closure"), 303
    )


@bp.post("/closures/policy")
def closure_policy():
    if stale := _stale():
        return stale
    years = request.form.get("years", "")[:_KEEP]
    photos = request.form.get("photos", "")[:_KEEP]
    try:
        changed = closure.set_policy(current_user, years, photos, client_address())
    except Invalid as exc:
        page = closure.closures_page(current_user, client_address())
        return render_template(
            "clinician/closures.html",
            page=page,
            errors={exc.field: exc.message},
            typed={"years": years, "photos": photos},
            photo_policies=PHOTO_POLICIES,
        ), 400
    flash(f"Saved: {', '.join(changed)}." if changed else "Nothing has changed.", "success")
    return redirect(url_for("clinician.closures"), 303)


@bp.post("/patients/<int:patient_id>/closure-request")
def record_closure_request(patient_id: int):
    """A clinic admin records a request the patient made by phone, letter or in person."""
    confirmed = request.form.get("confirm") == "yes"
    try:
        _status, created = closure_requests.record_request(
            current_user, patient_id, now(), client_address(), confirmed=confirmed
        )
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(
            "Request recorded. Complete it on the Closures page."
            if created
            else "This patient has already asked to close their account.",
            "success" if created else "info",
        )
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="closure"), 303)


@bp.post("/closures/<int:closure_id>/withdraw")
def withdraw_closure(closure_id: int):
    """The patient changed their mind before the request was completed."""
    try:
        patient_id = closure_requests.withdraw(current_user, closure_id, client_address())
    except Invalid as exc:
        flash(exc.message, "error")
        return redirect(url_for("clinician.closures"), 303)
    flash("Request withdrawn. The patient's account stays open.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id), 303)
