"""Routes under /patient/export: "Download my data" (issue 20 points 1 and 5).

Registered on the patient blueprint, so its before-request check covers every route:
staff (of any clinic) get 404, and so does anyone not signed in (``EXPORT_FILES``, as
for photo files: an export URL must not even reveal that something is there). Another
patient's export is 404 too, and audited (``refuse_read``). Asking and downloading
both need a sign-in within SCLERO_FRESH_AUTH, else "Confirm it's you" first
(app/freshness.py; checklist E6). Every answer here carries
``Cache-Control: no-store, private``, and the service worker never handles these paths
(app/static/sw.js, ``EXPORT_PREFIX``).
"""

from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clock import now
from app.freshness import stale_response
from app.i18n import _
from app.patient.routes import bp
from app.services import export
from app.web import EXPORT_FILES
from app.web import client_address

NO_STORE = "no-store, private"


@bp.after_request
def _private(response: Response) -> Response:
    """Every answer of an export URL, 404s and redirects included, is never stored."""
    if request.endpoint in EXPORT_FILES:
        response.headers["Cache-Control"] = NO_STORE
        response.headers["Pragma"] = "no-cache"  # HTTP/1.0 proxies
    return response


@bp.context_processor
def _export_status() -> dict:
    """The "Your data" section reads the latest export itself (reminders page)."""
    return {"export_status": lambda: export.latest(current_user, now())}


def _stale():
    """A sign-in older than SCLERO_FRESH_AUTH first confirms it's them (checklist E6):
    a phone left unlocked, or a session left open on a shared computer, must not be
    enough to take a copy of the whole record. Back to "Your data" afterwards."""
    return stale_response(back=url_for("patient.reminders_page", _anchor="data-title"))


@bp.post("/export")
def request_export():
    """Ask for a zip of everything; a double click gets the same export."""
    if (stale := _stale()) is not None:
        return stale
    status = export.request_export(current_user, client_address(), now())
    if status.state == "ready":
        flash(_("Your download is ready."), "success")
    else:
        flash(_("We are preparing your download. We will tell you when it is ready."), "success")
    return redirect(url_for("patient.reminders_page", _anchor="data-title"), 303)


@bp.post("/export/<int:job_id>/download")
def download_export(job_id: int):
    """The one download of a ready export; a used or expired one gets a page saying so.

    A POST (a button), not a link: the download is used up, and a GET must change
    nothing (checklist D1): a link previewer or a prefetch would otherwise spend it.
    The download asks for a recent sign-in too: the zip, not the asking, is what
    leaves, and it may be taken hours after it was asked for.
    """
    if (stale := _stale()) is not None:
        return stale
    try:
        chunks = export.take_download(current_user, job_id, client_address(), now())
    except export.ExportGone as gone:
        page = render_template("patient/export_gone.html", reason=gone.reason)
        return Response(page, status=410, mimetype="text/html")
    response = Response(chunks, mimetype="application/zip", direct_passthrough=True)
    response.headers["Content-Disposition"] = 'attachment; filename="sclerocare-my-data.zip"'
    return response
