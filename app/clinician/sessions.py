"""A patient's sessions at the clinic: booking another, moving and cancelling an
appointment, and recording the treatment (issue 19 point 2).

Every action looks its patient or session up first, so another clinic's gets 404
(audited) whatever the form says. A refused form is shown again on a page of its own,
with what was typed and a message on each wrong field, instead of a flash message on
the patient page that lost the entry.
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clinician.forms import BookSessionForm
from app.clinician.forms import MoveForm
from app.clinician.forms import RecordTreatmentForm
from app.clinician.forms import protocol_choices
from app.clinician.routes import bp
from app.clock import now
from app.i18n import _
from app.services import clinic
from app.services.errors import Invalid
from app.web import client_address

# The services name the instant ("appointment", "treated_at"); the forms, the date box.
_FIELDS = {"treated_at": "date", "appointment": "date"}


def _field_error(form, exc: Invalid) -> None:  # noqa: ANN001 - any WTForms form
    """Put a service's refusal on the field it names (or flash it if none matches)."""
    target = getattr(form, _FIELDS.get(exc.field, exc.field), None)
    if target is not None:
        target.errors = [*target.errors, exc.message]
    else:
        flash(exc.message, "error")


def _confirms(form, warned: str) -> bool:  # noqa: ANN001 - BookSessionForm or MoveForm
    """Whether the "anyway" tick confirms this very entry.

    The warning page's tick carries what it warned about (``warned``: date, time and
    protocol), so a date or protocol changed after ticking is checked, and warned about,
    again rather than booked on the tick given for another. A bare value (``y``, from a
    script or an older page) confirms whatever it is sent with.
    """
    field = form.confirm_soon
    if not field.data:
        return False
    sent = field.raw_data[0] if field.raw_data else ""
    if sent == warned or not sent[:1].isdigit():
        return True
    field.data = False  # shown again unticked, with the warning for this entry
    return False


def _warned(form, *more: object) -> str:  # noqa: ANN001 - a WhenForm
    """What a too-soon warning is about, as its tick's value."""
    return " ".join([form.local().isoformat(timespec="minutes"), *map(str, more)])


def _notes(saved) -> None:  # noqa: ANN001 - a clinic.Saved
    """Flash what the service said beside "saved" (which 01:30; aftercare that left)."""
    for note in saved.notes:
        flash(note, "info")


def _seen_recorded() -> bool | None:
    """Whether the record form's page showed the session recorded ("recorded": 1 or 0;
    None from a page without the field)."""
    sent = request.form.get("recorded")
    return None if sent not in ("0", "1") else sent == "1"


def _to_patient(patient_id: int):  # noqa: ANN202 - a redirect
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="sessions"), 303)


@bp.post("/patients/<int:patient_id>/sessions")
def book_session(patient_id: int):
    """Book the next session. A date inside the protocol's minimum interval of another
    session is shown again with a warning and a tick to book it anyway."""
    form = BookSessionForm()
    warning = None
    if form.validate_on_submit():
        form.confirm_value = _warned(form, form.protocol.data)
        try:
            saved = clinic.book_session(
                current_user,
                patient_id,
                form.local(),
                form.protocol.data,
                now(),
                client_address(),
                confirmed=_confirms(form, form.confirm_value),
            )
        except clinic.TooSoon as exc:
            warning = exc.message
        except Invalid as exc:
            _field_error(form, exc)
        else:
            flash(_("Session booked."), "success")
            _notes(saved)
            return _to_patient(patient_id)
    page = clinic.booking_page(current_user, patient_id, client_address(), now())
    form.protocol.choices = protocol_choices(page.protocols)
    # The suggested window is the last protocol's; a warning names the chosen one's.
    form.window = None if warning else page.defaults.window
    return render_template("clinician/book.html", form=form, p=page.patient, warning=warning), (
        200 if warning else 400
    )


@bp.post("/sessions/<int:treatment_id>/reschedule")
def reschedule(treatment_id: int):
    """Move a booked appointment; a refused date is shown again on its own page, and a
    date inside the protocol's minimum interval with a warning and a tick."""
    form = MoveForm()
    warning = None
    if form.validate_on_submit():
        form.confirm_value = _warned(form)
        try:
            saved = clinic.reschedule(
                current_user,
                treatment_id,
                form.local(),
                now(),
                client_address(),
                confirmed=_confirms(form, form.confirm_value),
            )
        except clinic.SessionUnchanged as exc:
            if exc.field == "confirm_soon":
                warning = exc.message
            elif exc.field != "appointment":  # not booked any more: nothing to correct
                flash(exc.message, "error")
                return _to_patient(exc.treatment.patient_id)
            else:
                _field_error(form, exc)
        else:
            flash(_("Appointment moved. The patient's checklist follows the new time."), "success")
            _notes(saved)
            return _to_patient(saved.treatment.patient_id)
    t = clinic.move_form(current_user, treatment_id, client_address())
    return render_template("clinician/move.html", form=form, t=t, warning=warning), (
        200 if warning else 400
    )


@bp.route("/sessions/<int:treatment_id>/cancel", methods=["GET", "POST"])
def cancel(treatment_id: int):
    """Cancelling is deliberate: a page asks to confirm, and the POST needs ``confirm``
    (issue 14 point 11); without JavaScript too."""
    error = None
    if request.method == "GET":
        t = clinic.cancel_form(current_user, treatment_id, client_address())
    elif request.form.get("confirm") != "yes":
        t = clinic.treatment_for(current_user, treatment_id, client_address(), "cancel")
        error = _("Confirm that you want to cancel this appointment.")
    else:
        try:
            t = clinic.cancel(current_user, treatment_id, now(), client_address())
            flash(_("Appointment cancelled."), "success")
        except clinic.SessionUnchanged as exc:
            t = exc.treatment
            flash(exc.message, "error")
        return _to_patient(t.patient_id)
    return render_template("clinician/cancel.html", t=t, error=error), (400 if error else 200)


@bp.route("/sessions/<int:treatment_id>/record", methods=["GET", "POST"])
def record(treatment_id: int):
    """Record a session (or correct one recorded). The page opens with the booked date
    and time in the patient's zone and the last session's details, or, to correct a
    recorded one, with its own values."""
    form = RecordTreatmentForm()
    refill = False
    if form.validate_on_submit():
        entered = clinic.TreatmentRecord(
            form.local(),
            form.sclerosant.data,
            form.form.data,
            form.concentration.data or "",
            form.areas.data,
            form.compression.data or "",
            checks_confirmed=bool(form.checks_done.data),
        )
        try:
            saved = clinic.record_treatment(
                current_user,
                treatment_id,
                entered,
                now(),
                client_address(),
                seen_recorded=_seen_recorded(),
            )
        except clinic.RecordedMeanwhile as exc:
            # A colleague's record came first: show it, not this entry (named in the
            # message), so saving again is a correction made knowingly.
            flash(exc.message, "error")
            refill = True
        except Invalid as exc:
            _field_error(form, exc)
        else:
            flash(_("Treatment recorded. The patient's recovery plan starts from it."), "success")
            _notes(saved)
            return _to_patient(saved.treatment.patient_id)
    opening = request.method == "GET"
    page = clinic.record_page(current_user, treatment_id, client_address(), opening=opening)
    if opening or refill:
        form = RecordTreatmentForm(formdata=None, data=page.defaults.values)
    return render_template(
        "clinician/record.html", form=form, t=page.treatment, tasks=page.tasks
    ), (200 if opening else 400)
