"""Routes under /clinic/protocols: the clinic's protocols and versions, a version's
text, the difference between two versions, and sign-off (issue 17 point 3).

Registered on the clinician blueprint (staff only). Every clinician may read these
pages, so they can see what their patients are on; only clinic admins sign off (others
get 404 for the action, as for the other admin pages). Another clinic's protocol is 404.
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
from app.freshness import stale_response
from app.services import protocol_admin
from app.services.errors import Invalid
from app.textinput import db_int
from app.web import client_address


@bp.get("/protocols")
def protocols():
    return render_template("clinician/protocols.html", groups=protocol_admin.overview(current_user))


@bp.get("/protocols/versions/<int:version_id>")
def protocol_version(version_id: int):
    page = protocol_admin.version_page(current_user, version_id, client_address())
    return render_template(
        "clinician/protocol_version.html", pg=page, confirm=protocol_admin.CONFIRM_TEXT
    )


@bp.post("/protocols/versions/<int:version_id>/sign-off")
def sign_off_protocol(version_id: int):
    if not current_user.is_admin:
        # The service audits the forged POST (a clinician's page has no sign-off form).
        protocol_admin.sign_off(current_user, version_id, False, client_address(), now())
    back = url_for("clinician.protocol_version", version_id=version_id)
    if (stale := stale_response(back)) is not None:  # a fresh sign-in (A9)
        return stale
    confirmed = request.form.get("confirm") == "yes"
    try:
        done = protocol_admin.sign_off(current_user, version_id, confirmed, client_address(), now())
    except Invalid as exc:
        page = protocol_admin.version_page(current_user, version_id)
        return render_template(
            "clinician/protocol_version.html",
            pg=page,
            confirm=protocol_admin.CONFIRM_TEXT,
            error=exc.message,
        ), 400
    v = done.version
    if done.signed_now:
        flash(f"{v.name} version {v.version} is signed off. New patients can have it.", "success")
    else:
        flash(
            f"{v.name} version {v.version} was already signed off by {v.signed_off_by_name}. "
            "Nothing changed.",
            "success",
        )
    return redirect(url_for("clinician.protocol_version", version_id=v.id), 303)


def _number(name: str) -> int | None:
    """A version number from the query: None when absent (the service picks the
    default), 0 (no such version: 404) when it is not a number."""
    if name not in request.args:
        return None
    try:
        return db_int(request.args[name])
    except ValueError:
        return 0


@bp.get("/protocols/<protocol_key>/compare")
def compare_protocol(protocol_key: str):
    result = protocol_admin.compare(current_user, protocol_key, _number("old"), _number("new"))
    return render_template("clinician/protocol_compare.html", c=result)
