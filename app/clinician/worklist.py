"""The clinician's dashboard (/clinic/): one worklist of alerts, check-ins, photos and
missed check-ins, filtered and sorted by the query string (so it works without
JavaScript), and the fragment app/static/js/worklist.js fetches to refresh it in place
(issue 19 point 1).

Registered on the clinician blueprint (staff only, checked before every request).
"""

from __future__ import annotations

from flask import current_app
from flask import g
from flask import render_template
from flask import request
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.services import review
from app.web import client_address

_SECTIONS = ("alerts", "checkins", "photos", "missed", "upcoming")


def _pages() -> dict[str, int]:
    return {k: request.args.get(f"{k}_page", 1, type=int) or 1 for k in _SECTIONS}


def _context(work: review.Worklist) -> dict:
    # The nav badge needs no second count, unless a filter left some alerts uncounted.
    if not work.view.kind and not work.view.urgency:
        g.open_alerts = work.board.alerts.total
    return {
        "w": work,
        "d": work.board,
        "kinds": review.WORK_KINDS,
        "urgencies": review.WORK_URGENCIES,
        "sorts": review.WORK_SORTS,
        "poll_seconds": current_app.config["SCLERO_WORKLIST_POLL_SECONDS"],
    }


@bp.get("/")
def dashboard():
    view = review.WorkView.parse(request.args)
    work = review.worklist(current_user, now(), _pages(), client_address(), view)
    return render_template("clinician/dashboard.html", **_context(work))


@bp.get("/worklist")
def worklist_fragment():
    """The worklist alone, for the page to swap in; ``204`` when ``since`` (the version
    the page shows) is still current, so an unchanged list is neither sent nor audited."""
    view, since = review.WorkView.parse(request.args), request.args.get("since", "")
    work = review.worklist_update(current_user, now(), _pages(), client_address(), view, since)
    if work is None:
        return "", 204, {"Cache-Control": "no-store"}
    html = render_template("clinician/_worklist.html", **_context(work))
    return html, 200, {"Cache-Control": "no-store"}
