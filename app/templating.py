"""Jinja filters that turn instants into the patient's local, plain-English wording."""

from __future__ import annotations

import hashlib
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask import g

from app.domain import wording


def register(app: Flask) -> None:
    """Install filters: ``when``, ``on``, ``local``, ``day_phrase``."""

    @app.template_filter("when")
    def when(instant: datetime, tz: str, now: datetime) -> str:
        return wording.when(instant, ZoneInfo(tz), now)

    @app.template_filter("on")
    def on(day: date, today: date) -> str:
        return wording.on(day, today)

    @app.template_filter("local")
    def local(instant: datetime, tz: str, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
        return instant.astimezone(ZoneInfo(tz)).strftime(fmt)

    app.add_template_filter(wording.day_phrase, "day_phrase")

    @app.template_global("sc_generated")
    def sc_generated() -> str:
        # When this page was made, so a copy read offline can say how old it is.
        from app.security import now

        return now().isoformat()

    @app.template_global("open_alerts")
    def open_alerts() -> int:
        # The badge on the clinician's Dashboard tab: unacknowledged alerts of the clinic.
        from flask_login import current_user

        from app.services.review import open_alert_count

        if not current_user.is_clinician:
            return 0
        known = g.get("open_alerts")  # the dashboard has just counted them
        return known if known is not None else open_alert_count(current_user)

    @app.template_filter("sha256")
    def sha256(text: str) -> str:
        # Lets the page recognise "this device" without printing its push endpoint,
        # which is the only secret /push/resubscribe checks.
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
