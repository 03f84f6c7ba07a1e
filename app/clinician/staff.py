"""Routes under /clinic/staff: the clinic admin's staff pages (issue 17 point 2).

List the clinic's clinicians and admins, invite one by email, change a role, deactivate
and reactivate an account, and make a new sign-in link. Registered on the clinician
blueprint, so its sign-in and staff check runs first; every page here is for clinic
admins only (anyone else: 404, as for the audit log), and the services check that too.

A link just made is shown in the response to the POST that made it, not after a
redirect: the token never goes into the session cookie, and reloading the page asks
before posting again (which would only make a fresh link and retire this one).
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import SelectField
from wtforms import StringField

from app.clinician.routes import bp
from app.clinician.routes import invite_url
from app.clock import now
from app.freshness import fresh_required
from app.qr import qr_svg
from app.services import refusals
from app.services.accounts import staff
from app.services.accounts import staff_changes
from app.services.accounts import staff_email
from app.services.errors import Invalid
from app.textinput import Form
from app.web import client_address

ROLE_CHOICES = {"clinician": "Clinician", "clinic_admin": "Clinic admin"}

# The share-link macro (app/templates/_macros/share_link.html) draws its QR code with this.
bp.add_app_template_global(qr_svg, "link_qr")


class InviteStaffForm(Form):
    """Shape only: the staff service checks the name, email and role."""

    name = StringField("Name")
    email = EmailField("Email")
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)
    email_it = BooleanField("Also email this link")


class RoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class LinkForm(Form):
    email_it = BooleanField("Also email this link")


def admin_only(view):  # noqa: ANN001, ANN201 - a view decorator
    """Clinic admins only; a clinician sees no such page."""

    @wraps(view)
    def wrapped(*args, **kwargs):  # noqa: ANN202
        if not current_user.is_admin:
            if request.method == "POST":
                # A forged write is an accountable attempt (issue 18): audited, then 404.
                what = f"{request.endpoint} {'/'.join(str(v) for v in kwargs.values())}"
                staff.refuse_non_admin(current_user, client_address(), what.strip())
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _list_page(form: InviteStaffForm, row_errors: dict[int, str] | None = None, status=200):  # noqa: ANN001, ANN202
    rows, email_failures = staff_email.staff_page(current_user)
    return render_template(
        "clinician/staff.html",
        rows=rows,
        email_failures=email_failures,
        form=form,
        role_choices=ROLE_CHOICES,
        row_errors=row_errors or {},
        refusal_alerts=refusals.alerts_this_week(current_user, now()),
    ), status


def _link_page(issued: staff.IssuedLink, asked_email: bool):  # noqa: ANN202
    ttl = current_app.config["SCLERO_INVITE_TTL"]
    return render_template(
        "clinician/staff_link.html",
        issued=issued,
        link=invite_url(issued.token),
        asked_email=asked_email,
        ttl_days=ttl.days,
    )


@bp.get("/staff")
@admin_only
@fresh_required
def staff_list():
    return _list_page(InviteStaffForm(role="clinician"))


@bp.post("/staff")
@admin_only
@fresh_required
def invite_staff():
    form = InviteStaffForm()
    if form.validate_on_submit():
        email_it = bool(form.email_it.data)
        try:
            issued = staff.invite_staff(
                current_user,
                form.email.data or "",
                form.name.data or "",
                form.role.data or "",
                now(),
                client_address(),
                email_url=invite_url if email_it else None,
            )
        except Invalid as exc:
            field = getattr(form, exc.field, None)
            if field is not None:
                field.errors = [*field.errors, exc.message]
            else:
                flash(exc.message, "error")
        else:
            return _link_page(issued, email_it)
    return _list_page(form, status=400)


@bp.post("/staff/<int:user_id>/role")
@admin_only
@fresh_required
def staff_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        return _list_page(InviteStaffForm(formdata=None), {user_id: "Please try again."}, 400)
    try:
        user = staff_changes.set_role(current_user, user_id, form.role.data or "", client_address())
    except Invalid as exc:
        return _list_page(InviteStaffForm(formdata=None), {user_id: exc.message}, 400)
    words = "a clinic admin" if user.role.value == "clinic_admin" else "a clinician"
    flash(f"{user.name} is now {words}.", "success")
    return redirect(url_for("clinician.staff_list", _anchor=f"staff-{user_id}"), 303)


@bp.post("/staff/<int:user_id>/deactivate")
@admin_only
@fresh_required
def staff_deactivate(user_id: int):
    if not Form().validate_on_submit():
        return _list_page(InviteStaffForm(formdata=None), {user_id: "Please try again."}, 400)
    try:
        user = staff_changes.deactivate(current_user, user_id, now(), client_address())
    except Invalid as exc:
        return _list_page(InviteStaffForm(formdata=None), {user_id: exc.message}, 400)
    flash(f"{user.name} is deactivated and signed out everywhere.", "success")
    return redirect(url_for("clinician.staff_list", _anchor=f"staff-{user_id}"), 303)


@bp.post("/staff/<int:user_id>/reactivate")
@admin_only
@fresh_required
def staff_reactivate(user_id: int):
    if not Form().validate_on_submit():
        return _list_page(InviteStaffForm(formdata=None), {user_id: "Please try again."}, 400)
    user = staff_changes.reactivate(current_user, user_id, client_address())
    flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("clinician.staff_list", _anchor=f"staff-{user_id}"), 303)


@bp.post("/staff/<int:user_id>/link")
@admin_only
@fresh_required
def staff_link(user_id: int):
    form = LinkForm()
    if not form.validate_on_submit():
        return _list_page(InviteStaffForm(formdata=None), {user_id: "Please try again."}, 400)
    email_it = bool(form.email_it.data)
    try:
        issued = staff.new_link(
            current_user,
            user_id,
            now(),
            client_address(),
            email_url=invite_url if email_it else None,
        )
    except Invalid as exc:
        return _list_page(InviteStaffForm(formdata=None), {user_id: exc.message}, 400)
    return _link_page(issued, email_it)
