"""The one source of "now" in the app.

Every "now" (views, services, model defaults, audit stamps, the CLI and the dispatcher)
comes from ``now()`` here, so a test that pins ``app.config["SCLERO_NOW"]`` (an aware
datetime, or a callable returning one) pins everything. Outside an app context (a bare
script, a thread without the app) it is the real time. Domain code never calls it: time
is an argument there.

Nothing else in app/ reads the system clock (tests/test_import_rules.py checks): a run
that must pretend an instant and still see time pass uses ``advancing``, and the
adapters that compare with other machines' clocks use ``wall_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import current_app
from flask import has_app_context


def now() -> datetime:
    """The current instant, aware UTC; pinned by ``SCLERO_NOW`` when the app sets it."""
    if has_app_context():
        pinned = current_app.config.get("SCLERO_NOW")
        if pinned is not None:
            instant = pinned() if callable(pinned) else pinned
            # In UTC, as the real clock is: "+ 12 hours" on a local time pinned in a zone
            # with summer time is wall-clock arithmetic, 13 real hours across the change.
            return instant.astimezone(UTC) if instant.tzinfo is not None else instant
    return datetime.now(UTC)


def advancing(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and then moves with real time (the dispatcher's
    ``--now`` runs and tests: the pretended instant, yet leases and outcomes still see
    time pass)."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def wall_seconds() -> float:
    """Real seconds since the epoch, never pinned.

    Only for comparing with clocks outside the app, which a pinned test clock cannot
    move: file modification times (the photo store's sweep), the expiry a push service
    reads in a VAPID token, an HTTP ``Retry-After`` date.
    """
    return time.time()
