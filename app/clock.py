"""The one source of "now" in the app.

Every "now" (views, services, model defaults, audit stamps, the CLI and the dispatcher)
comes from ``now()`` here, so a test that pins ``app.config["SCLERO_NOW"]`` (an aware
datetime, or a callable returning one) pins everything. Outside an app context (a bare
script, a thread without the app) it is the real time. Domain code never calls it: time
is an argument there.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import current_app
from flask import has_app_context


def now() -> datetime:
    """The current instant, aware UTC; pinned by ``SCLERO_NOW`` when the app sets it."""
    if has_app_context():
        pinned = current_app.config.get("SCLERO_NOW")
        if pinned is not None:
            return pinned() if callable(pinned) else pinned
    return datetime.now(UTC)
