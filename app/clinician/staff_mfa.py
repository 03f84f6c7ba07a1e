"""Route: a clinic admin resets a staff member's second factor (issue 18 point 4), on
the staff page (/clinic/staff). The person's sessions end and they set the second factor
up again at their next sign-in. Audited as ``staff_mfa_reset``; another clinic's person
is "not found" (and audited as refused), as everywhere in /clinic. Needs a fresh
sign-in (checklist A9, app/freshness.py).
"""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import redirect
from flask import url_for
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.freshness import stale_response
from app.services.accounts import mfa
from app.services.accounts.staff import refuse_non_admin
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.textinput import Form
from app.web import client_address


@bp.post("/staff/<int:user_id>/second-factor/reset")
def staff_mfa_reset(user_id: int):
    if not current_user.is_admin:
        # Audited as refused (a forged POST: a clinician's page has no such button).
        refuse_non_admin(current_user, client_address(), f"reset second factor of user #{user_id}")
        abort(404)
    # After the admin check: a clinician gets 404, not "Confirm it's you" (A9).
    if (stale := stale_response(url_for("clinician.staff_list"))) is not None:
        return stale
    back = redirect(url_for("clinician.staff_list", _anchor=f"staff-{user_id}"), 303)
    if not Form().validate_on_submit():  # the CSRF token
        flash("Please try again.", "error")
        return back
    try:
        user = mfa.reset_second_factor(current_user, user_id, now(), client_address())
    except NotFound:
        abort(404)
    except Invalid as exc:
        flash(exc.message, "error")
        return back
    flash(
        f"{user.name}'s sign-in code is reset and they are signed out. They set up their "
        "authenticator app again at their next sign-in.",
        "success",
    )
    return back


@bp.app_template_global("staff_has_second_factor")
def staff_has_second_factor(user_id: int) -> bool:
    """For the staff page: whether a person has a second factor set up."""
    return mfa.is_enrolled(user_id)
