"""A question the page never asked is not reported as "not answered" (issue 14 points 1
and 7).

On a protocol without stockings (or once the stockings are off) the check-in never asks
about them. The patient must not then be told "Not answered: Stockings in the day ...
you can change today's answers to add them" (the form has no such question), and the
clinician must not read "stockings: day not answered" as if the patient had skipped it.
"""

from __future__ import annotations

import re

from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_today_course import add_patient


def _answer_everything_shown(client) -> dict[str, str]:
    html = client.get("/patient/checkin").get_data(as_text=True)
    names = set(re.findall(r'<input type="radio"[^>]* name="([^"]+)"', html))
    assert "stockings_day" not in names and "stockings_night" not in names
    data = {n: "no" for n in names if n.startswith("rf-")}
    data |= {n: "no" for n in names if n in ("lumps", "itching")}
    data |= {n: "yes" for n in names if n in ("walked", "elevated")}
    return {**data, "pain": "1", "bruising": "mild", "skin": "none", "note": "", "client_key": ""}


def test_a_protocol_without_stockings_never_reports_them_not_answered(app, client, world, in_app):
    add_patient(in_app, "nora@patients.example", day=3, key="compression-none")
    login(client, "nora@patients.example")
    r = client.post("/patient/checkin", data=_answer_everything_shown(client))
    assert r.status_code == 200
    page = text_of(r)
    assert "Not answered" not in page and "Stockings" not in page
    assert "Everything you told us sounds as expected" in page
    assert "Not answered" not in text_of(client.get("/patient/diary"))

    doc = app.test_client()
    login(doc, "doc1@north.example")
    from app.extensions import db
    from app.models import Patient
    from app.models import User

    pid = in_app(
        lambda: db.session.scalar(
            db.select(Patient.id).join(User).where(User.email == "nora@patients.example")
        )
    )
    diary = text_of(doc.get(f"/clinic/patients/{pid}"))
    assert "day not answered" not in diary and "night not answered" not in diary
    # Walks and legs raised are not asked on this protocol: "not asked".
    assert "walked not asked; legs raised not asked" in diary
