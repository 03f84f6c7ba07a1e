"""What a Spanish patient still met in English, found in review rvi18n (issue 19
point 4): each test fails without its fix."""

from __future__ import annotations

import json

SW_BODY_EN = "You have a new reminder. Open ScleroCare to see it."
SW_BODY_ES = "Tiene un recordatorio nuevo. Abra ScleroCare para verlo."


def test_the_workers_fallback_push_text_is_said_in_each_language(client):
    # A push the worker cannot read still shows a notification (else the browser drops
    # the subscription). Its words were English only, on a Spanish patient's lock screen.
    sw = client.get("/sw.js").get_data(as_text=True)
    line = next(li for li in sw.splitlines() if li.startswith("const FALLBACK_BODY"))
    body = json.loads(line.split("=", 1)[1].strip().rstrip(";"))
    assert body == f"{SW_BODY_EN} / {SW_BODY_ES}"
