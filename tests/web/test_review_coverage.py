"""The clinician's review workspace and the patient's pages, checked value by value.

The pain and bruising chart (SVG coordinates and the table beside it), the protocol's
"Normal at this stage" notes on Today, escaping of every free text a person types (a
patient's note, a clinician's comment, an acknowledgement note) wherever it is shown,
and the sessions list with the controls each state offers.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.protocol import parse_protocol
from app.domain.recovery import window
from app.extensions import db
from app.models import Alert
from app.models import Clinic
from app.models import Treatment
from app.models import TreatmentStatus
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.conftest import version_id

P72 = parse_protocol(
    (Path(__file__).resolve().parents[2] / "app" / "protocols" / "compression-72h.toml").read_text()
)
ALL_FLAGS = [f.key for f in P72.red_flags]
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MARKUP = f"{SCRIPT} and {IMG}"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def checkin(day=None, yes=(), **overrides):
    """A check-in form: "no" to every warning sign (unasked ones are ignored)."""
    data = {
        "pain": "2",
        "bruising": "mild",
        "itching": "no",
        "lumps": "no",
        "stockings_day": "yes",
        "stockings_night": "no",
        "walked": "yes",
        "elevated": "yes",
        "note": "",
    }
    data.update({f"rf-{k}": ("yes" if k in yes else "no") for k in ALL_FLAGS})
    if day is not None:
        data["day"] = str(day)
    data.update(overrides)
    return data


def submit(client, **kwargs):
    r = client.post("/patient/checkin", data=checkin(**kwargs))
    assert r.status_code == 200, text_of(r)
    return r


def staff(app, email="doc1@north.example"):
    doc = app.test_client()
    assert login(doc, email).status_code == 302
    return doc


def text_of_html(html: str) -> str:
    """Visible text of an HTML fragment (``text_of`` takes a response)."""

    class Fragment:
        def get_data(self, as_text=True):
            return html

    return text_of(Fragment())


def assert_never_raw(html: str) -> None:
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html


def section(html: str, pattern: str) -> str:
    found = re.search(pattern, html, flags=re.S)
    assert found, pattern
    return found.group(0)


# ------------------------------------------------------------------ chart


def test_chart_has_one_point_per_check_in_at_its_coordinates_and_a_table(app, client, world):
    """Alice (day 3) checks in for days 3, 1 and 2, in that order, and corrects day 2.

    The chart spans days 1-3: x = 28 + (day - 1) * (320 - 28 - 8) / 2; pain and bruising
    each fill 8..140: y = 8 + 132 * (1 - value / top), top 10 for pain, 3 for bruising.
    """
    login(client, "alice@patients.example")
    submit(client, pain="7", bruising="none")  # today, day 3
    submit(client, day=1, pain="2", bruising="mild")
    submit(client, day=2, pain="4", bruising="severe")
    submit(client, day=2, pain="5", bruising="moderate")  # the correction replaces day 2
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    chart = section(html, r'<figure class="chart">.*?</figure>')
    circles = re.findall(r'<circle class="pain" cx="([\d.]+)" cy="([\d.]+)"', chart)
    assert circles == [("28.0", "113.6"), ("170.0", "74.0"), ("312.0", "47.6")]
    pain_line = re.search(r'<polyline class="pain" points="([^"]*)"', chart).group(1)
    assert pain_line.split() == ["28.0,113.6", "170.0,74.0", "312.0,47.6"]
    bruise_line = re.search(r'<polyline class="bruise" points="([^"]*)"', chart).group(1)
    assert bruise_line.split() == ["28.0,96.0", "170.0,52.0", "312.0,140.0"]
    assert ">day 1</text>" in chart and ">day 3</text>" in chart
    table = section(html, r"<table>\s*<caption>Pain and bruising by day</caption>.*?</table>")
    body = section(table, r"<tbody>.*?</tbody>")
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>.*?</tr>", body)]
    assert rows == [["1", "2", "1"], ["2", "5", "2"], ["3", "7", "0"]]


def test_a_single_check_in_is_one_point_at_the_left_edge(app, client, world):
    login(client, "alice@patients.example")
    submit(client, pain="10", bruising="severe")
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    chart = section(html, r'<figure class="chart">.*?</figure>')
    assert re.findall(r'<circle class="pain" cx="([\d.]+)" cy="([\d.]+)"', chart) == [
        ("28.0", "8.0")
    ]
    body = section(html, r"<tbody>.*?</tbody>")
    assert re.findall(r"<td>(.*?)</td>", body) == ["3", "10", "3"]


def test_no_check_ins_means_no_chart(app, world):
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert "<svg" not in html and "Pain and bruising by day" not in html
    assert "No check-ins yet." in text_of_html(html)


# ------------------------------------------------------------------ Normal at this stage


def normal_notes_on(day: int, treated) -> list[str]:
    """The 72 h protocol's "normal" titles whose window covers ``day`` (protocol order)."""
    tz = ZoneInfo("Europe/London")
    on = treated.astimezone(tz).date() + timedelta(days=day)
    return [n.title for n in P72.normal if window(n.start, n.end, treated, tz).covers_date(on)]


def normal_section(client) -> str:
    html = client.get("/patient/today").get_data(as_text=True)
    return text_of_html(section(html, r'<section aria-labelledby="normal-title">.*?</section>'))


def treated_at(in_app, patient_id):
    return in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.treated_at).where(Treatment.patient_id == patient_id)
        )
    )


def test_today_lists_what_is_normal_on_day_3(client, world, in_app):
    expected = normal_notes_on(3, treated_at(in_app, world.patient_a))
    assert expected == [  # what the protocol says for day 3
        "Itching, tingling and raised red marks",
        "The treated veins may look worse at first",
        "Bruising",
        "Small tender dark lumps along a treated vein",
    ]
    login(client, "alice@patients.example")
    text = normal_section(client)
    assert text.startswith("Normal at this stage")
    for note in P72.normal:
        line = f"{note.title}. {note.detail}"
        assert (line in text) is (note.title in expected), note.key
    found = [t for t in (n.title for n in P72.normal) if f"{t}." in text]
    assert found == expected  # in the protocol's order


def test_today_lists_what_is_normal_on_day_14(app, world, in_app):
    def day14():
        return make_patient(db.session.get(Clinic, world.clinic1), "dee@patients.example", day=14)

    patient_id = in_app(lambda: day14().id)
    expected = normal_notes_on(14, treated_at(in_app, patient_id))
    assert expected == [
        "The treated veins may look worse at first",
        "Bruising",
        "Small tender dark lumps along a treated vein",
        "Brown lines or spots",
        "New very fine red vessels near a treated area",
    ]
    client = app.test_client()
    login(client, "dee@patients.example")
    text = normal_section(client)
    assert "Brown lines or spots. Most fade within 6 to 12 months." in text
    assert "Itching, tingling and raised red marks" not in text  # ended with day 3


# ------------------------------------------------------------------ escaping


def test_a_patients_note_with_markup_is_escaped_wherever_it_is_shown(app, client, world):
    login(client, "alice@patients.example")
    submit(client, note=MARKUP, yes={"calf-pain-swelling"})
    doc = staff(app)
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert_never_raw(page)
    assert f"Note: {SCRIPT_ESCAPED} and {IMG_ESCAPED}" in page
    board = doc.get("/clinic/").get_data(as_text=True)
    assert "Alice Marker-A" in board  # the alert and the check-in are listed
    assert_never_raw(board)
    own = client.get("/patient/diary").get_data(as_text=True)
    assert_never_raw(own)
    assert f"Your note: {SCRIPT_ESCAPED} and {IMG_ESCAPED}" in own


def test_a_clinicians_comment_with_markup_is_escaped_for_the_patient(app, client, world, in_app):
    doc = staff(app)
    r = doc.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": MARKUP})
    assert r.status_code == 303
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert_never_raw(page)
    assert f"{SCRIPT_ESCAPED} and {IMG_ESCAPED}" in page
    login(client, "alice@patients.example")
    diary = client.get("/patient/diary").get_data(as_text=True)
    assert_never_raw(diary)
    comments = section(diary, r'<section aria-labelledby="comments-title">.*?</section>')
    assert f"{SCRIPT_ESCAPED} and {IMG_ESCAPED}" in comments


def test_an_acknowledgement_note_with_markup_never_appears_raw(app, client, world, in_app):
    login(client, "alice@patients.example")
    submit(client, yes={"calf-pain-swelling"})
    alert_id = in_app(lambda: db.session.scalar(sa.select(Alert.id)))
    doc = staff(app)
    # Too long: refused, and what was typed is kept for the note box.
    r = doc.post(
        f"/clinic/alerts/{alert_id}/acknowledge",
        data={"note": MARKUP + "x" * 2000, "patient": str(world.patient_a)},
    )
    assert r.status_code == 303
    page = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert_never_raw(page)
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is None
    r = doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": MARKUP})
    assert r.status_code == 303
    assert in_app(lambda: db.session.get(Alert, alert_id).ack_note) == MARKUP  # stored as typed
    for html in (
        doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True),
        doc.get("/clinic/").get_data(as_text=True),
        client.get("/patient/diary").get_data(as_text=True),
    ):
        assert_never_raw(html)


# ------------------------------------------------------------------ sessions


def test_sessions_list_shows_each_state_with_its_controls(app, world, in_app):
    """Alice: treated Tue 17 Nov 2026 10:00 (London); then a session booked for Tue 5 Jan
    2027 10:00 and one for Tue 12 Jan 11:30 that is then cancelled."""
    vid = in_app(lambda: version_id(db.session.get(Clinic, world.clinic1)))
    doc = staff(app)
    for date, time in (("2027-01-05", "10:00"), ("2027-01-12", "11:30")):
        r = doc.post(
            f"/clinic/patients/{world.patient_a}/sessions",
            # A week apart: inside the minimum interval, confirmed.
            data={"date": date, "time": time, "protocol": str(vid), "confirm_soon": "y"},
        )
        assert r.status_code == 303
    done, booked, cancelled = in_app(
        lambda: [
            t.id
            for t in db.session.scalars(
                sa.select(Treatment)
                .where(Treatment.patient_id == world.patient_a)
                .order_by(Treatment.appointment_at)
            )
        ]
    )
    assert (
        doc.post(f"/clinic/sessions/{cancelled}/cancel", data={"confirm": "yes"}).status_code == 303
    )
    statuses = in_app(
        lambda: [db.session.get(Treatment, i).status for i in (done, booked, cancelled)]
    )
    assert statuses == [TreatmentStatus.DONE, TreatmentStatus.SCHEDULED, TreatmentStatus.CANCELLED]

    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    listed = section(html, r'<ol class="sessions">.*?</ol>')
    items = re.findall(r'<li class="card">(.*?)</li>', listed, flags=re.S)
    assert len(items) == 3

    first = text_of_html(items[0])
    assert first.startswith("Treated Tue 17 Nov 2026, 10:00")
    assert "Polidocanol, liquid. Areas: left calf." in first
    assert f'href="/clinic/sessions/{done}/record"' in items[0]  # correct the record
    assert "Cancel appointment" not in first and "Move appointment" not in first

    second = text_of_html(items[1])
    assert second.startswith("Booked Tue 5 Jan 2027, 10:00")
    assert "Treated" not in second and "cancelled" not in second
    assert f'href="/clinic/sessions/{booked}/record"' in items[1]
    assert f'action="/clinic/sessions/{booked}/reschedule"' in items[1]
    assert f'href="/clinic/sessions/{booked}/cancel"' in items[1]  # asks to confirm
    assert "Record treatment" in second and "Move appointment" in second
    assert "Cancel appointment" in second

    assert re.search(r"<s>\s*Tue 12 Jan 2027, 11:30\s*</s>\s*cancelled", items[2])
    third = text_of_html(items[2])
    assert "Booked" not in third and "Treated" not in third
    assert f"/clinic/sessions/{cancelled}/" not in items[2]  # no controls
    assert "<form" not in items[2] and "<button" not in items[2]
