"""The page tells its script the clinic's date locale and the patient's time zone
(issue 19 point 4), so the offline banner never follows the phone's own locale; the
browser side is tests/browser/test_offline_reload_browser.py."""

from __future__ import annotations

import re

from tests.conftest import login


def _meta(html: str) -> str:
    return re.search(r'<meta name="sc-generated"[^>]*>', html).group(0)


def test_the_generated_meta_carries_locale_and_zone(app, client, world):
    login(client, "alice@patients.example")
    meta = _meta(client.get("/patient/today").get_data(as_text=True))
    assert 'data-locale="en-GB"' in meta
    assert 'data-tz="Europe/London"' in meta
    app.config["SCLERO_DATE_LOCALE"] = "pl-PL"
    meta = _meta(client.get("/patient/checklist").get_data(as_text=True))
    assert 'data-locale="pl-PL"' in meta


def test_staff_pages_carry_the_locale_without_a_patient_zone(client, world):
    login(client, "doc1@north.example")
    meta = _meta(client.get("/clinic/").get_data(as_text=True))
    assert 'data-locale="en-GB"' in meta and "data-tz" not in meta
