"""A clinic's own protocol that marks its stocking tasks and asks no stockings question
(issue 19, HAZ-05 C6; clinical reference §2.6 and §4.7).

Through the real pages: its patient on day 3 (stockings on) is told to "loosen or take
off your stocking" on the check-in result, Today's urgent card and the offline same-day
page; on day 12 (stockings off) the plain advice. Before the marker, this file's
patients got the plain advice while wearing stockings. The clinician's patient page and
the outcomes page (and its CSV) show stocking adherence as "not asked", never 0 % or
"No compression"; a protocol that asks keeps its counts.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Treatment
from app.services import protocols
from app.services.outcomes import tallies
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import sign_off_all
from tests.conftest import text_of
from tests.domain.test_stocking_marks import clinic_own_text
from tests.web.test_checkin import form
from tests.web.test_stocking_advice import NO_STOCKING
from tests.web.test_stocking_advice import STOCKING
from tests.web.test_stocking_advice import _shown

OWN = "clinic-own-72h"


@pytest.fixture
def own_protocol(world, in_app, tmp_path) -> None:
    """The clinic's own file loaded for the north clinic and signed off."""
    path = tmp_path / "own.toml"
    path.write_text(clinic_own_text(OWN), encoding="utf-8")

    def load() -> None:
        protocols.load(str(path), "north", NOW - timedelta(days=60))
        sign_off_all(db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")))

    in_app(load)


def _patient(in_app, email: str, day: int, key: str = OWN) -> int:
    def build() -> int:
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north"))
        patient = make_patient(clinic, email, day=day, key=key)
        tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == patient.id))
        tallies.add_session(tid)  # as recording the session would
        db.session.commit()
        return patient.id

    return in_app(build)


@pytest.mark.parametrize(
    ("day", "says", "not_says"), [(3, STOCKING, NO_STOCKING), (12, NO_STOCKING, STOCKING)]
)
def test_the_advice_follows_the_marked_stocking_tasks(
    client, in_app, own_protocol, day, says, not_says
):
    email = f"own-{day}@patients.example"
    _patient(in_app, email, day)
    login(client, email)
    page = client.get("/patient/checkin").get_data(as_text=True)
    assert 'name="stockings"' not in page and 'name="stockings_day"' not in page  # not asked
    offline = _shown(page.split('<template id="offline-same-day">')[1].split("</template>")[0])
    assert says in offline and not_says not in offline
    result = text_of(client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"})))
    assert "Please call the clinic today" in result or "Please get advice today" in result
    assert says in result and not_says not in result
    today = client.get("/patient/today").get_data(as_text=True)
    card = _shown(today.split('id="urgent-advice"')[1].split("</section>")[0])
    assert says in card and not_says not in card


def test_adherence_is_not_asked_on_the_patient_page_and_the_outcomes_page(
    app, in_app, own_protocol
):
    own = _patient(in_app, "own-50@patients.example", 50)
    asks = _patient(in_app, "asks-50@patients.example", 50, key="compression-72h")
    doc = app.test_client()
    login(doc, "doc1@north.example")
    body = text_of(doc.get(f"/clinic/patients/{own}"))
    assert "Stockings Not asked (the protocol has stocking tasks but asks no stockings" in body
    assert "No stockings in this protocol" not in body and "Worn 0" not in body
    # A protocol that asks: counted as before (nothing answered: all "not reported").
    assert "Worn 0 of 15 required, not reported 15" in text_of(doc.get(f"/clinic/patients/{asks}"))
    page = text_of(doc.get("/clinic/outcomes"))
    ours = page.split("Our own stockings protocol")[1].split("Stocking adherence")[1]
    assert ours.startswith(" Not asked in 1 session (the protocol has stocking tasks"), ours
    assert "worn of answered" not in ours.split("Sessions")[0]
    rows = list(csv.reader(io.StringIO(doc.get("/clinic/outcomes.csv").get_data(as_text=True))))
    head = rows[0]
    assert head[-1] == "sessions with stockings not asked"
    mine = next(r for r in rows if r[:2] == ["protocol", "Our own stockings protocol"])
    assert mine[head.index("sessions")] == mine[-1] == "1"
    assert mine[head.index("stocking slots required")] == "0"
    assert mine[head.index("worn % of answered")] == ""
    shipped = next(r for r in rows if r[0] == "protocol" and r[1].startswith("72 hours"))
    assert shipped[-1] == "0" and int(shipped[head.index("stocking slots required")]) > 0


def test_a_version_loaded_before_the_check_is_named_on_its_page(app, world, in_app):
    """A version already stored is not refused (its patients are pinned to it), but its
    page tells the clinic which stocking tasks are not taken as stocking wear and what
    to do; a marked version, and a shipped one, say nothing of it."""
    text = clinic_own_text("clinic-old", marked=False)

    def store() -> tuple[int, int]:
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north"))
        old = ProtocolVersion(
            clinic_id=clinic.id,
            key="clinic-old",
            version=1,
            name="Our old stockings protocol",
            source_text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            created_at=NOW - timedelta(days=400),  # loaded as files were before the check
        )
        db.session.add(old)
        db.session.commit()
        shipped = next(
            v.id for v in protocols.latest_for_clinic(clinic.id) if v.key == "compression-72h"
        )
        return old.id, shipped

    old, shipped = in_app(store)
    doc = app.test_client()
    login(doc, "doc1@north.example")
    page = text_of(doc.get(f"/clinic/protocols/versions/{old}"))
    assert (
        "Stocking tasks not marked These tasks speak of stockings, but this version does not "
        "mark them as stocking wear and asks no stockings question while they run: Wear your "
        "stockings day and night; Wear your stockings in the daytime."
    ) in page
    assert "stockings = true" in page
    assert "Stocking tasks not marked" not in text_of(
        doc.get(f"/clinic/protocols/versions/{shipped}")
    )
