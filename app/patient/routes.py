"""Routes under /patient: today, checklist, plan, and the tick actions."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required

from app.patient.forms import TickForm
from app.security import now
from app.services import recovery
from app.services.errors import Invalid

bp = Blueprint("patient", __name__)


@bp.before_request
@login_required
def require_patient():
    """Every route here is for patients only; staff get 404 (no patient record)."""
    if current_user.patient is None:
        abort(404)


@bp.get("/today")
def today():
    page = recovery.today_page(current_user, now())
    return render_template("patient/today.html", page=page, now=now())


@bp.get("/checklist")
def checklist():
    course, view = recovery.checklist_page(current_user, now())
    return render_template("patient/checklist.html", course=course, view=view, now=now())


@bp.get("/plan")
def plan():
    course, view = recovery.plan_page(current_user)
    return render_template("patient/plan.html", course=course, view=view, now=now())


@bp.post("/checklist/<key>")
def tick_checklist(key: str):
    form = TickForm()
    if not form.validate_on_submit():
        abort(400)
    recovery.set_checklist_item(current_user, key, form.done.data == "1", now())
    return redirect(url_for("patient.checklist", _anchor=f"item-{key}"), 303)


@bp.post("/tasks/<key>")
def tick_task(key: str):
    form = TickForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        recovery.set_task(current_user, key, form.day.data, form.done.data == "1", now())
    except Invalid as exc:
        flash(exc.message, "error")
    return redirect(url_for("patient.today", _anchor=f"task-{key}"), 303)
