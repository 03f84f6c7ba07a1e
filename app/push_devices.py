"""The push-device JSON endpoints, the same for patients and staff.

Both audiences turn alerts on and off for a device from their reminders page, with the
same two JSON calls; the service keys each device by whoever is signed in, so one pair
of handlers serves both. Each blueprint adds them under its own prefix with
``add_device_routes`` (``/patient/reminders/subscribe``, ``/clinic/reminders/subscribe``,
endpoints ``patient.subscribe``, ``clinician.subscribe``, ...), so its own before-request
check (who may be there) still runs first.

Not a blueprint itself: a module both blueprints may import.
"""

from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from flask import request
from flask_login import current_user

from app.clock import now
from app.i18n import _
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.notify import subscriptions
from app.web import device_label


def subscribe_json():  # noqa: ANN201
    """POST {"subscription": ..., "reconfirm": bool}: turn this device on, or re-confirm
    it when the app opens (patients and staff). A re-confirmation of a device that is
    off answers 404 ``{"off": true}``, and the page then drops the browser's copy."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    label = device_label(request.headers.get("User-Agent", ""))
    try:
        subscriptions.save_subscription(
            current_user,
            body.get("subscription"),
            label,
            now(),
            reconfirm=body.get("reconfirm") is True,
        )
    except Invalid as exc:
        # The service's messages are marked; push.js shows them as they come.
        return jsonify(ok=False, error=_(exc.message)), 400
    except NotFound as exc:
        return jsonify(ok=False, off=True, error=_(str(exc))), 404
    return jsonify(ok=True)


def unsubscribe_json():  # noqa: ANN201
    """POST {"endpoint": ...}: turn this device off (idempotent)."""
    body = request.get_json(silent=True) or {}
    endpoint = body.get("endpoint") if isinstance(body.get("endpoint"), str) else None
    return jsonify(
        ok=True, removed=subscriptions.remove_subscription(current_user, endpoint=endpoint)
    )


def add_device_routes(bp: Blueprint) -> None:
    """Add ``<prefix>/reminders/subscribe`` and ``/unsubscribe`` to ``bp``."""
    bp.add_url_rule("/reminders/subscribe", "subscribe", subscribe_json, methods=["POST"])
    bp.add_url_rule("/reminders/unsubscribe", "unsubscribe", unsubscribe_json, methods=["POST"])
