"""Routes under /patient/outcomes: rating a session six weeks on (issue 19 point 6).
The card on Today that asks for it is read by Today's service (``TodayPage.rating_due``).

Registered on the patient blueprint, so its before-request check (a signed-in patient,
not discharged for writes) covers every route here.
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clock import now
from app.domain.outcomes import IMPROVEMENT_STEPS
from app.i18n import N_
from app.i18n import _
from app.patient.routes import bp
from app.services import outcomes
from app.services.errors import Invalid

# The patient's words for the choices (keys from app/domain/outcomes.py), marked for
# translation here because the domain imports no Flask.
SATISFACTION = {
    1: N_("Very unhappy"),
    2: N_("Unhappy"),
    3: N_("Neither happy nor unhappy"),
    4: N_("Happy"),
    5: N_("Very happy"),
}
SIDE_EFFECTS = {
    "matting": N_("New fine red vessels (called matting)"),
    "pigmentation": N_("Brown marks or lines (called pigmentation)"),
}


def _page(page: outcomes.RatingPage, values: dict | None = None, error: Invalid | None = None):
    return render_template(
        "patient/outcome.html",
        page=page,
        values=values,
        error=error,
        steps=IMPROVEMENT_STEPS,
        satisfaction=SATISFACTION,
        side_effects=SIDE_EFFECTS,
    )


@bp.get("/outcomes/<int:treatment_id>")
def rate_session(treatment_id: int):
    page = outcomes.rating_page(current_user, treatment_id, now())
    return _page(page)


@bp.post("/outcomes/<int:treatment_id>")
def save_rating(treatment_id: int):
    form = request.form
    try:
        outcomes.save_rating(
            current_user,
            treatment_id,
            form.get("improvement", ""),
            form.get("satisfaction", ""),
            form.getlist("side_effects"),
            now(),
        )
    except Invalid as exc:
        page = outcomes.rating_page(current_user, treatment_id, now())
        values = {
            "improvement": form.get("improvement", ""),
            "satisfaction": form.get("satisfaction", ""),
            "side_effects": form.getlist("side_effects"),
        }
        return _page(page, values, exc), 400
    flash(_("Thank you. Your rating is saved."), "info")
    return redirect(url_for("patient.today"), 303)
