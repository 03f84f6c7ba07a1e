"""Locale review of issue 19 point 4: what a real clinic and patient would meet.

A US clinic's dates read month first everywhere (not only in the domain's wording), and
other checks found by trying the locale work as users would.
"""

from __future__ import annotations

import re

from app.extensions import db
from app.models import Clinic
from tests.conftest import login
from tests.conftest import text_of


def _clinic_locale(in_app, clinic_id: int, locale: str) -> None:
    def run():
        db.session.get(Clinic, clinic_id).locale = locale
        db.session.commit()

    in_app(run)


def test_a_us_clinic_reads_month_first_in_every_date(client, world, in_app):
    # The plan's "treated ..." line goes through the ``local`` filter, whose pattern is
    # written day first; a US clinic chose "Mon Dec 7, 2026" on its settings page.
    _clinic_locale(in_app, world.clinic1, "en_US")
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan"))
    assert re.search(r"treated \w{3} [A-Z][a-z]{2} \d{1,2}, 20\d\d, \d\d:\d\d", text), text
    assert not re.search(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", text)


def test_a_uk_clinic_keeps_day_first(client, world):
    login(client, "alice@patients.example")
    text = text_of(client.get("/patient/plan"))
    assert re.search(r"treated \w{3} \d{1,2} [A-Z][a-z]{2} 20\d\d, \d\d:\d\d", text), text
