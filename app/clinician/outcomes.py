"""Routes under /clinic for outcomes (issue 19 points 6 and 7): the clinic's outcomes
page and its CSV, and the blinded clearance scoring of a session's matched photos. The
patient page's outcomes partial (app/templates/clinician/patient/_outcomes.html) gets
its rows from the patient page's service (app/services/clinic/pages.py).

Registered on the clinician blueprint (staff only); every query is scoped to the
clinician's clinic by the services.
"""

from __future__ import annotations

from flask import Response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.domain.outcomes import CLEARANCE
from app.domain.outcomes import COMPLICATIONS
from app.domain.outcomes import MIN_RATINGS_SHOWN
from app.services import outcomes
from app.services.errors import Invalid
from app.services.photos import Site
from app.web import client_address


@bp.get("/outcomes")
def outcomes_page():
    report = outcomes.clinic_report(current_user, client_address())
    return render_template(
        "clinician/outcomes.html",
        r=report,
        clearance=CLEARANCE,
        complications=COMPLICATIONS,
        min_rated=MIN_RATINGS_SHOWN,
    )


@bp.get("/outcomes.csv")
def outcomes_csv():
    report = outcomes.clinic_report(current_user, client_address())
    # A byte order mark first: Excel reads a CSV without one in the machine's legacy
    # code page, so "é" or a protocol name in Polish would open garbled.
    return Response(
        "\ufeff" + outcomes.report_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"'},
    )


def _scoring(treatment_id: int, site: Site | None, error: Invalid | None = None):
    page = outcomes.scoring_page(current_user, treatment_id, site, client_address())
    return render_template(
        "clinician/outcomes_score.html", s=page, clearance=CLEARANCE, error=error
    )


@bp.get("/sessions/<int:treatment_id>/clearance")
def score_session(treatment_id: int):
    return _scoring(treatment_id, Site.from_values(request.args))


@bp.post("/sessions/<int:treatment_id>/clearance")
def save_clearance(treatment_id: int):
    site = Site.from_values(request.form)
    try:
        patient_id = outcomes.save_score(
            current_user, treatment_id, site, request.form.get("score", ""), client_address(), now()
        )
    except Invalid as exc:
        return _scoring(treatment_id, site, exc), 400
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="outcomes"), 303)
