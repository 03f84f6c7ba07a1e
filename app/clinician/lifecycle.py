"""Routes for a patient's lifecycle (issue 17 point 4): edit their details, discharge,
re-open.

Registered on the clinician blueprint, so its before-request check (signed in, staff)
covers every route here; the services look the patient up in the clinician's own clinic
(404, audited, for any other).
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField

from app.clinician.forms import ZONES
from app.clinician.routes import bp
from app.clock import now
from app.i18n import LANGUAGES
from app.services.clinic import lifecycle
from app.services.errors import Invalid
from app.textinput import Form
from app.web import client_address

# What is typed is kept and shown back, cut to this (a huge paste is refused by the
# service with a message, and need not be sent back whole).
_KEEP = 1000


class PatientDetailsForm(Form):
    """The rules (required, length, format, unique email) are the service's, so its
    messages are the ones shown."""

    name = StringField("Full name")
    email = EmailField("Email")
    phone = StringField("Phone (optional)")
    timezone = SelectField("Time zone", choices=ZONES, validate_choice=False)
    # The patient's pages and dates (issue 19 point 4); the service checks the value.
    language = SelectField(
        "Language",
        choices=[SelectChoice("", "Same as the clinic")]
        + [SelectChoice(code, name) for code, name in LANGUAGES.items()],
        validate_choice=False,
    )
    # The stored values this form was opened with, so a save changes only what was
    # edited here and never undoes another tab's save (lifecycle._merge).
    was_name = HiddenField()
    was_email = HiddenField()
    was_phone = HiddenField()
    was_timezone = HiddenField()
    was_language = HiddenField()


_FIELDS = ("name", "email", "phone", "timezone", "language")


def _typed(form: PatientDetailsForm) -> lifecycle.Details:
    # A page opened before the language field existed sends none: it leaves it alone.
    fields = _FIELDS if "language" in request.form else _FIELDS[:-1]
    sent = all(f"was_{k}" in request.form for k in fields)  # older pages lack them
    was = {k: (form[f"was_{k}"].data or "")[:_KEEP] for k in fields} if sent else None
    return lifecycle.Details(**{k: (form[k].data or "")[:_KEEP] for k in fields}, was=was)


def _stored(p) -> dict[str, str]:  # noqa: ANN001 - the patient row the service gave
    return {
        "name": p.user.name,
        "email": p.user.email,
        "phone": p.phone,
        "timezone": p.timezone,
        "language": p.language,
    }


def _shown_again(form: PatientDetailsForm, stored: dict[str, str], conflicts: dict) -> None:
    """Keep what was typed, as far as it is sensible to send back; a field changed
    elsewhere meanwhile is now shown, so saving again replaces it on purpose."""
    for f in form:
        if f.type != "CSRFTokenField":
            f.data = (f.data or "")[:_KEEP]
    for key in conflicts:
        form[f"was_{key}"].data = stored[key]


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
def edit_patient(patient_id: int):
    form = PatientDetailsForm()
    conflicts: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            changed = lifecycle.update_details(
                current_user, patient_id, _typed(form), now(), client_address()
            )
        except lifecycle.DetailsRefused as exc:
            if isinstance(exc, lifecycle.DetailsConflict):
                conflicts = exc.errors
            for field, message in exc.errors.items():
                form[field].errors = [message]
        except Invalid as exc:
            form[exc.field].errors = [exc.message]
        else:
            flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.", "success")
            return redirect(url_for("clinician.patient", patient_id=patient_id), 303)
    opening = request.method == "GET"
    p = lifecycle.details_page(current_user, patient_id, client_address(), opening=opening)
    stored = _stored(p)
    if opening:
        form = PatientDetailsForm(
            formdata=None, **stored, **{f"was_{k}": v for k, v in stored.items()}
        )
    else:
        _shown_again(form, stored, conflicts)
    return render_template("clinician/patient_edit.html", form=form, p=p), (200 if opening else 400)


@bp.route("/patients/<int:patient_id>/discharge", methods=["GET", "POST"])
def discharge(patient_id: int):
    """Deliberate, like cancelling: a page asks to confirm, the POST needs ``confirm``."""
    error = None
    reason = request.form.get("reason", "")[:_KEEP]
    if request.method == "POST" and request.form.get("confirm") == "yes":
        try:
            lifecycle.discharge(current_user, patient_id, reason, now(), client_address())
        except Invalid as exc:
            error = exc.message
        else:
            flash("Patient discharged. Their reminders have stopped.", "success")
            return redirect(url_for("clinician.patient", patient_id=patient_id), 303)
    elif request.method == "POST":
        error = "Confirm that you want to discharge this patient."
    opening = request.method == "GET"
    view = lifecycle.discharge_page(current_user, patient_id, client_address(), opening=opening)
    return render_template(
        "clinician/discharge.html", v=view, p=view.patient, error=error, reason=reason
    ), (400 if error else 200)


@bp.post("/patients/<int:patient_id>/reopen")
def reopen(patient_id: int):
    try:
        lifecycle.reopen(current_user, patient_id, now(), client_address())
    except Invalid as exc:  # a closed account stays closed
        flash(exc.message, "error")
    else:
        flash("Patient re-opened. Their reminders are planned again.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id), 303)
