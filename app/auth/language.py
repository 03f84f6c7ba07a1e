"""The language of the pages a patient reads before signing in (issue 19 point 4).

Registered on the auth blueprint (imported by ``app.auth``). A set-password or reset
link's pages, the "this link has run out" page and the remembered phone's PIN page are
in the language of the patient the link or the phone names; any other page before
sign-in follows the browser's languages (app/i18n.py:read_as). Done before the view,
so every word of the request, the form's labels and errors included, is in it.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.auth import remembered
from app.auth.routes import bp
from app.clock import now
from app.i18n import read_as
from app.services.accounts import reader_language

# The pages of a link whose token is in the URL, by endpoint.
_LINK_PAGES = {"auth.accept_invite", "auth.reset_password"}


@bp.before_request
def reader_of_the_page() -> None:
    if current_user.is_authenticated:
        return  # a signed-in person reads their own language
    if request.endpoint in _LINK_PAGES:
        token = (request.view_args or {}).get("token", "")
        read_as(reader_language.link_reader(str(token)))
    elif request.endpoint == "auth.pin_sign_in":
        read_as(reader_language.device_reader(remembered.device_token(), now()))
