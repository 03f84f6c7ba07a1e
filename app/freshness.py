"""The fresh sign-in check for sensitive staff actions (issue 18, checklist A9) and for a
patient's "Download my data" (checklist E6).

``fresh_required`` (a view decorator) and ``stale_response`` (the same check inline,
for a view that must first answer 404 to people who may not act at all). When the
person last proved who they are longer ago than ``SCLERO_FRESH_AUTH`` (15 minutes),
they are sent to "Confirm it's you" (app/auth/fresh.py), and from there back to the
page they were on. A refused POST does nothing: the person confirms, then does it
again on the page they see (re-sending a form after a detour would act on a click
made before the check, which is what the check is there to stop).

Here, not in app/auth, because the clinic's views may not import another blueprint
(tests/test_import_rules.py); like app/web.py, it holds no routes.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_login import current_user

from app.clock import now
from app.i18n import N_
from app.i18n import _
from app.services.accounts import reauth

REFUSED_MESSAGE = N_("For your safety, please confirm it's you, then do that again.")


def stale_response(back: str | None = None) -> Response | None:
    """None when the signed-in person proved who they are recently enough; else the
    redirect to "Confirm it's you" (for a POST, with the message that nothing was done).

    ``back``: where to return after confirming; by default the page the person is on
    (this page for a GET, the page the form was on for a POST)."""
    if not current_user.is_authenticated or reauth.is_fresh(current_user, now()):
        return None
    if request.method == "GET":
        target = back or request.full_path.rstrip("?")
    else:
        flash(_(REFUSED_MESSAGE), "error")
        target = back or _referring_page() or url_for("auth.index")
    return redirect(url_for("auth.confirm_identity", next=target), 303)


def fresh_required(view):  # noqa: ANN001, ANN201 - a view decorator
    """The view runs only for a person who proved who they are within
    SCLERO_FRESH_AUTH; anyone else goes to "Confirm it's you" first."""

    @wraps(view)
    def wrapped(*args, **kwargs):  # noqa: ANN202
        stale = stale_response()
        if stale is not None:
            return stale
        return view(*args, **kwargs)

    return wrapped


def _referring_page() -> str | None:
    """The path of the page that sent this form, when it is one of ours."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
