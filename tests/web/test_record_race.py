"""Two clinicians recording one session: the second page, opened before the first
record, is refused with what was stored instead of overwriting it unawares
(adversarial review, 2026-12-07: eight records at once all answered "Treatment
recorded", the last write won, and each clinician believed their own time was the
anchor of the recovery plan). A double submit of the same details is still harmless.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Treatment
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_booking import _ids
from tests.web.test_booking import _when


def _record(time: str, recorded: str | None = "0", sclerosant: str = "STS") -> dict[str, str]:
    data = {
        **_when("20", "11", "2026", time),
        "sclerosant": sclerosant,
        "form": "liquid",
        "areas": "calf",
        "checks_done": "y",
    }
    if recorded is not None:
        data["recorded"] = recorded
    return data


def _audits(in_app, action: str) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
    )


def _treated(in_app, tid: int) -> str:
    return in_app(lambda: db.session.get(Treatment, tid).treated_at.strftime("%H:%M"))


def test_the_form_says_whether_its_page_saw_the_session_recorded(client, world, in_app):
    (bob,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    html = client.get(f"/clinic/sessions/{bob}/record").get_data(as_text=True)
    assert re.search(r'name="recorded" value="0"', html)
    assert client.post(f"/clinic/sessions/{bob}/record", data=_record("09:00")).status_code == 303
    html = client.get(f"/clinic/sessions/{bob}/record").get_data(as_text=True)
    assert re.search(r'name="recorded" value="1"', html)


def test_a_colleagues_record_made_while_the_page_was_open_is_not_overwritten(client, world, in_app):
    (bob,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    url = f"/clinic/sessions/{bob}/record"
    # The colleague's page and this one both opened the session unrecorded.
    assert client.post(url, data=_record("09:00")).status_code == 303
    r = client.post(url, data=_record("10:00", sclerosant="polidocanol"))
    assert r.status_code == 400
    page, html = text_of(r), r.get_data(as_text=True)
    assert "Someone recorded this session while this page was open" in page
    assert "(treated 2026-11-20 09:00)" in page
    # The form shows what was stored, so a second save is a correction made knowingly;
    # the refused entry is named in the message, not lost without a word.
    assert 'value="STS"' in html and 'value="polidocanol"' not in html
    assert "Yours was not saved: treated 2026-11-20 10:00, polidocanol" in page
    assert 'name="recorded" value="1"' in html  # now it has seen it
    assert _treated(in_app, bob) == "09:00"
    assert _audits(in_app, "correct treatment") == 0
    # Saving again from that page corrects the record, on the audit trail.
    assert client.post(url, data=_record("10:00", recorded="1")).status_code == 303
    assert _treated(in_app, bob) == "10:00"
    assert _audits(in_app, "correct treatment") == 1


def test_a_double_submit_of_the_same_details_records_once(client, world, in_app):
    (bob,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    url = f"/clinic/sessions/{bob}/record"
    assert client.post(url, data=_record("09:00")).status_code == 303
    assert client.post(url, data=_record("09:00")).status_code == 303
    assert _audits(in_app, "record treatment") == 1
    assert _audits(in_app, "correct treatment") == 0


def test_a_form_without_the_field_corrects_as_before(client, world, in_app):
    (bob,) = _ids(in_app, world.patient_b)
    login(client, "doc1@north.example")
    url = f"/clinic/sessions/{bob}/record"
    assert client.post(url, data=_record("09:00", recorded=None)).status_code == 303
    assert client.post(url, data=_record("10:00", recorded=None)).status_code == 303
    assert _treated(in_app, bob) == "10:00"
