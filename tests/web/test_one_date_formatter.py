"""Every day the app names in words comes from one formatter, app/i18n.py (issue 19
point 4): templates' ``date_as`` and ``local``, the domain's ``short_day`` and the
booking service's interval warning all write a day as the reader's locale does."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from flask_babel import force_locale

from app.domain import language
from app.extensions import db
from app.i18n import date_as
from app.i18n import format_day
from app.i18n import local
from app.models import Clinic
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_booking import _vid
from tests.web.test_booking import _when

DAY = date(2026, 11, 17)


def test_the_filters_the_domain_and_format_day_agree(app):
    for locale in ("en_GB", "en_US", "es"):
        with app.test_request_context(), force_locale(locale):
            same = format_day(DAY, "short_year")
            assert date_as(DAY) == same, locale
            assert language.short_day(DAY, with_year=True) == same, locale
            noon = datetime(2026, 11, 17, 12, tzinfo=UTC)
            assert local(noon, "Europe/London", "%a %-d %b %Y") == same, locale
    with app.test_request_context(), force_locale("es"):
        assert format_day(DAY, "date") == "17 de noviembre de 2026"
    with app.test_request_context():
        assert format_day(DAY, "date", "en_US") == "November 17, 2026"


def test_the_booking_warning_names_the_day_in_the_clinics_locale(client, world, in_app):
    # Alice's last session was Tue 17 Nov; a Spanish clinic's clinician reads "mar".
    def spanish_clinic():
        db.session.get(Clinic, world.clinic1).locale = "es_ES"
        db.session.commit()

    in_app(spanish_clinic)
    login(client, "doc1@north.example")
    data = {"protocol": _vid(in_app, world, "compression-none"), **_when("8", "12", "2026")}
    r = client.post(f"/clinic/patients/{world.patient_a}/sessions", data=data)
    with client.application.test_request_context(), force_locale("es_ES"):
        expected = format_day(DAY, "short_year")
    assert expected != "Tue 17 Nov 2026" and expected in text_of(r)
    assert "Tue 17 Nov 2026" not in text_of(r)
