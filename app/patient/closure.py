"""The patient's "Close my account" page (issue 20 point 4): what happens, what the
clinic keeps and why, a confirm step, then the request and its state.

Registered on the patient blueprint, so ``require_patient`` has run: staff get 404, a
discharged patient may still ask while they can read (``_STILL_ALLOWED`` in routes.py).
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clock import now
from app.i18n import _
from app.patient.routes import bp
from app.services.clinic import closure
from app.web import client_address


@bp.route("/account/close", methods=["GET", "POST"])
def close_account():
    error = None
    if request.method == "POST":
        if request.form.get("confirm") == "yes":
            status, created = closure.request_closure(current_user, now(), client_address())
            if created:
                flash(_("We have your request. Your clinic will close your account."), "success")
            else:
                flash(_("You have already asked to close your account."), "info")
            return redirect(url_for("patient.close_account"), 303)
        error = _("Tick the box to confirm that you want to close your account.")
    page = closure.patient_page(current_user)
    return render_template("patient/close_account.html", page=page, error=error), (
        400 if error else 200
    )
