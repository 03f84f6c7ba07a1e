"""The check-in page follows the protocol's data (issue 14 points 5 and 7).

* It asks the fixed questions the protocol asks on that day: never stockings in the
  no-compression protocol, not after the stockings are off; a question not asked is
  stored as not asked even if a stale page sends it.
* It carries the rule table the domain builds (one source of truth for offline use),
  and the emergency screen with the clinic's emergency number.
* A version stored before the rules were protocol data still works for its patients.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.checkin import offline_rules
from app.domain.protocol import parse_protocol
from app.extensions import db
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.web.test_checkin import form

STOCKINGS = "Did you wear your stockings"


def _patient(key: str, day: int, email: str) -> int:
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north"))
    return make_patient(clinic, email, day=day, key=key).id


def _flags_asked(client) -> list[str]:
    html = client.get("/patient/checkin").get_data(as_text=True)
    return re.findall(r'name="rf-([a-z-]+)" value="yes"', html)


def test_no_compression_protocol_never_asks_about_stockings(client, world, in_app):
    in_app(_patient, "compression-none", 2, "none@patients.example")
    login(client, "none@patients.example")
    page = text_of(client.get("/patient/checkin"))
    assert STOCKINGS not in page
    assert "Pain where you were treated" in page and "Itching?" in page
    # A stale or hand-made form that sends a stockings answer: stored as not asked.
    data = form(stockings_day="yes", stockings_night="no")
    data = {k: v for k, v in data.items() if not k.startswith("rf-")}
    data.update({f"rf-{k}": "no" for k in _flags_asked(client)})
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 200, text_of(r)
    answers = in_app(lambda: db.session.scalar(sa.select(CheckIn.answers)))
    assert (answers["stockings_day"], answers["stockings_night"]) == (None, None)
    assert answers["itching"] is False


def test_stockings_are_asked_only_while_they_are_worn(client, world, in_app):
    login(client, "alice@patients.example")  # 72 h protocol, day 3
    # Day and night both asked: one question (issue 19 point 3).
    assert "Did you wear your stockings? (optional)" in text_of(client.get("/patient/checkin"))
    in_app(_patient, "compression-72h", 12, "twelve@patients.example")
    other = client.application.test_client()
    login(other, "twelve@patients.example")
    page = text_of(other.get("/patient/checkin"))
    assert STOCKINGS not in page and "Itching?" in page


def test_the_page_carries_the_domains_rule_table_and_the_emergency_screen(client, world, in_app):
    login(client, "alice@patients.example")
    html = client.get("/patient/checkin").get_data(as_text=True)
    found = re.search(
        r'<script type="application/json" id="triage-rules">(.*?)</script>', html, re.S
    )
    table = json.loads(found.group(1))

    def expected():
        t = db.session.scalar(
            sa.select(Treatment).join(Patient).where(Patient.id == world.patient_a)
        )
        text = db.session.get(ProtocolVersion, t.protocol_version_id).source_text
        zone = ZoneInfo(t.patient.timezone)
        return offline_rules(parse_protocol(text, "72h"), t.anchor, zone)

    assert table == json.loads(json.dumps(in_app(expected)))
    assert {f["key"]: f["tier"] for f in table["red_flags"]}["chest-breathing"] == "emergency"
    assert '<template id="offline-emergency">' in html
    assert 'href="tel:999"' in html.split('<template id="offline-emergency">')[1]
    assert "js/triage.js" in html


def _store_old_style_version() -> int:
    """The 72 h file as loaded before this change (no kinds, no check-in sections),
    pinned to a new patient of clinic 'old'."""
    clinic = make_clinic("old")
    pv = db.session.scalar(
        sa.select(ProtocolVersion).where(
            ProtocolVersion.clinic_id == clinic.id, ProtocolVersion.key == "compression-72h"
        )
    )
    text = re.sub(r'^kind = "[a-z]+"\n', "", pv.source_text, flags=re.M)
    text = text[
        : text.index("# ---------------------------------------------------------------- check-in")
    ]
    old = ProtocolVersion(
        clinic_id=clinic.id,
        key="compression-72h",
        version=pv.version + 1,
        name=pv.name,
        source_text=text,
        sha256="0" * 64,
        created_at=NOW - timedelta(days=30),
    )
    db.session.add(old)
    db.session.commit()
    patient = make_patient(clinic, "old@patients.example", day=12)
    t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient.id))
    t.protocol_version_id = old.id
    db.session.commit()
    return old.id


def test_a_version_stored_before_the_rules_were_data_still_serves_its_patients(client, in_app):
    in_app(_store_old_style_version)
    login(client, "old@patients.example")
    assert client.get("/patient/today").status_code == 200
    page = text_of(client.get("/patient/checkin"))
    # The old behaviour: every fixed question, stockings included, every day.
    assert "Did you wear your stockings? (optional) Day and night" in page
    data = {k: v for k, v in form(pain="8").items() if not k.startswith("rf-")}
    data.update({f"rf-{k}": "no" for k in _flags_asked(client)})
    r = client.post("/patient/checkin", data=data)
    assert "Please call the clinic today" in text_of(r)
    level, reasons = in_app(
        lambda: db.session.execute(sa.select(CheckIn.level, CheckIn.reasons)).one()
    )
    assert (level, reasons) == ("same_day", ["Pain 8 out of 10"])
