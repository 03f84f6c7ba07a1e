"""Flask-Login wiring: the sign-in page and the loader of server-side sessions.

Sign-in sessions live in the ``auth_sessions`` table: the cookie carries a random token,
the table its SHA-256, so logging out revokes the session on the server and a copied
cookie stops working (security checklist A6, which stock Flask-Login does not meet).
"""

from __future__ import annotations

from flask import Flask
from flask import request

from app.clock import now
from app.extensions import login_manager
from app.principal import Principal
from app.services import accounts


def init_app(app: Flask) -> None:
    """Wire the loader and the sign-in page into Flask-Login."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    # Our own server-side sessions replace Flask-Login's weaker protection.
    login_manager.session_protection = None
    login_manager.user_loader(_load_user)


def _load_user(token: str) -> Principal | None:
    # The dashboard's own refresh (js/worklist.js) is not the clinician at work: it must
    # not keep an unattended session from its idle sign-out (issue 19 point 1).
    active = request.headers.get("X-Worklist-Poll") != "1"
    return accounts.user_for_session(token, now(), active=active)
