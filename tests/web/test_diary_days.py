"""The clinician's diary, day by day: every day on which the patient checked in, took a
photo or ticked a daily task, newest first, 28 days a page.

A day without a check-in says so and still shows its photos and ticked tasks; dates of
ticks follow the patient's calendar (day 0 is the local date of the treatment), as the
check-ins' do. Also: the chart marks every bruising point, so a single check-in shows,
and the page's statement count does not grow with a diary of photos and ticks.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.offsets import local_date
from app.extensions import db
from app.models import CheckIn
from app.models import Clinic
from app.models import Patient
from app.models import Photo
from app.models import TaskTick
from app.models import Treatment
from tests.conftest import login
from tests.conftest import make_patient
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_dashboard_scale import _same_count
from tests.web.test_dashboard_scale import _statements
from tests.web.test_review_coverage import section
from tests.web.test_review_coverage import staff
from tests.web.test_review_coverage import submit
from tests.web.test_review_coverage import text_of_html

WALK = "Walk several times today"  # the "walks" task of the 72 h protocol
LEGS = "Rest with your legs raised"  # its "elevate-legs" task


def raw_entries(html: str) -> dict[str, str]:
    """The diary's entries in page order: their HTML by the entry's id."""
    diary = section(html, r'<ol class="diary">.*?</ol>')
    parts = re.split(r'(?=<li id="(?:day|date)-)', diary)[1:]
    return {re.match(r'<li id="([^"]+)"', part).group(1): part for part in parts}


def entries(html: str) -> list[tuple[str, str]]:
    """The diary's entries in page order: (the entry's id, its visible text, with no
    space left before a comma where a tag ended)."""
    return [
        (entry_id, re.sub(r" ,", ",", text_of_html(part)))
        for entry_id, part in raw_entries(html).items()
    ]


def shown(on: date) -> str:
    return f"{on:%a} {on.day} {on:%b %Y}"


# ------------------------------------------------------------------ a day without a check-in


def test_a_day_without_a_check_in_shows_its_photo_and_tasks_ticked(
    app, client, clock, world, in_app
):
    """Alice (day 3) checked in late for day 2 only. On day 1 she ticked a walk; today
    (day 3) she ticked two tasks and took a photo, but has not checked in."""
    login(client, "alice@patients.example")
    submit(client, day=2)
    assert client.post("/patient/tasks/walks", data={"done": "1", "day": "1"}).status_code < 400
    for key in ("elevate-legs", "walks"):
        clock.advance(minutes=1)
        assert client.post(f"/patient/tasks/{key}", data={"done": "1"}).status_code < 400
    assert upload(client, phone_jpeg((400, 300))).status_code == 303

    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    checkin_id, photo_id = in_app(
        lambda: (db.session.scalar(sa.select(CheckIn.id)), db.session.scalar(sa.select(Photo.id)))
    )
    today = date(2026, 11, 20)  # NOW in London
    days = entries(html)
    assert [entry_id for entry_id, _ in days] == [
        f"date-{today.isoformat()}",
        f"day-{checkin_id}",
        f"date-{(today - timedelta(days=2)).isoformat()}",
    ]
    (_, day3), (_, day2), (_, day1) = days
    assert day3.startswith(f"Day 3, {shown(today)} · No check-in this day")
    assert f"Tasks ticked: {LEGS}, {WALK}" in day3
    assert "Mark day reviewed" not in day3
    today_entry = raw_entries(html)[f"date-{today.isoformat()}"]
    assert '<span class="muted">new</span>' in today_entry  # not yet looked at
    assert f'src="/clinic/photos/{photo_id}/thumb?s=' in today_entry
    assert f'href="/clinic/photos/{photo_id}/image"' in today_entry
    assert 'alt="Left calf, inner side, taken' in today_entry
    assert f'aria-label="Photos of {shown(today)}"' in today_entry
    # The check-in day looks as before: its answers, no ticks, and the review button.
    assert day2.startswith(f"Day 2, {shown(today - timedelta(days=1))} · As expected")
    assert "Pain 2/10, bruising mild" in day2 and "Tasks ticked: none" in day2
    assert "Mark day reviewed" in day2 and "No check-in" not in day2
    assert day1.startswith(f"Day 1, {shown(today - timedelta(days=2))} · No check-in this day")
    assert f"Tasks ticked: {WALK}" in day1
    assert "<img" not in raw_entries(html)[f"date-{(today - timedelta(days=2)).isoformat()}"]
    # The chart still covers the check-in days only.
    table = section(html, r"<tbody>.*?</tbody>")
    assert re.findall(r"<td>(.*?)</td>", table) == ["2", "2", "1"]


def test_a_photo_before_the_first_session_is_a_day_before_treatment(app, world, in_app):
    """Bob is booked for tomorrow: his photo today belongs before that session."""
    bob = app.test_client()
    login(bob, "bob@patients.example")
    assert upload(bob, phone_jpeg((400, 300))).status_code == 303
    html = staff(app).get(f"/clinic/patients/{world.patient_b}").get_data(as_text=True)
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    ((entry_id, text),) = entries(html)
    assert entry_id == "date-2026-11-20"
    assert text.startswith("Before treatment, Fri 20 Nov 2026 · No check-in this day")
    assert "Tasks ticked: none" in text
    assert f'src="/clinic/photos/{photo_id}/thumb?s=' in html
    assert "No check-ins yet." in text_of_html(html)  # the chart: no check-in to draw


def test_a_photo_outside_any_session_is_shown_by_its_date(app, world, in_app):
    """Alice's session was deleted; her photo stays, belonging to no session."""

    def build():
        patient = db.session.get(Patient, world.patient_a)
        db.session.execute(sa.delete(Treatment).where(Treatment.patient_id == patient.id))
        db.session.add(photo_row(patient, date(2026, 11, 19), None, None))
        db.session.commit()

    in_app(build)
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert entries(html) == [
        (
            "date-2026-11-19",
            "Thu 19 Nov 2026 · No check-in this day Tasks ticked: none new Mark photos reviewed",
        )
    ]


def test_a_patient_with_nothing_recorded_has_an_empty_diary(app, world):
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert '<ol class="diary">' not in html
    assert "No check-ins, photos or ticked tasks yet." in text_of_html(html)


# ------------------------------------------------------------------ pages of mixed days


def photo_row(patient: Patient, on: date, treatment_id: int | None, day: int | None) -> Photo:
    """A photo taken at noon on the patient's date ``on`` (no file behind it: the diary
    links to it and never reads it)."""
    at = datetime.combine(on, time(12), ZoneInfo(patient.timezone))
    return Photo(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        treatment_id=treatment_id,
        phase="after" if day is not None else "before",
        day=day,
        taken_at=at,
        taken_on=on,
        side="right",
        region="thigh",
        view="front",
        full_key=f"full-{patient.id}-{on}",
        full_sha256="0" * 64,
        full_size=1,
        thumb_key=f"thumb-{patient.id}-{on}",
        thumb_sha256="0" * 64,
        width=4,
        height=3,
        source_format="jpeg",
        created_at=at,
    )


def add_days(
    patient_id: int, checkins=(), ticks=(), photos=(), key: str = "walks"
) -> tuple[date, dict[int, int]]:
    """Rows as the patient's phone would have made them on the given days after their
    treatment (dated in their own calendar). :returns: day 0's date, check-in ids by day."""
    patient = db.session.get(Patient, patient_id)
    t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    tz = ZoneInfo(patient.timezone)
    start = local_date(t.anchor, tz)
    made = {}
    for day in checkins:
        at = datetime.combine(start + timedelta(days=day), time(19), tz)
        made[day] = CheckIn(
            patient_id=patient_id,
            clinic_id=patient.clinic_id,
            treatment_id=t.id,
            day=day,
            on_date=start + timedelta(days=day),
            answers={"itching": False, "lumps": False, "walked": True, "elevated": True},
            history=[],
            pain=day % 11,
            bruising="mild",
            level="routine",
            reasons=[],
            created_at=at,
            updated_at=at,
        )
    for day in ticks:
        at = datetime.combine(start + timedelta(days=day), time(8), tz)
        db.session.add(TaskTick(treatment_id=t.id, task_key=key, day=day, ticked_at=at))
    for day in photos:
        db.session.add(photo_row(patient, start + timedelta(days=day), t.id, day))
    db.session.add_all(made.values())
    db.session.commit()
    return start, {day: c.id for day, c in made.items()}


def test_pages_hold_28_days_of_every_kind_newest_first(app, world, in_app):
    """Dana, in Auckland (a day ahead of UTC), 40 days after treatment: check-ins on
    days 0-9, ticks on days 5 and 10-19, photos on days 15 and 20-34: 35 days."""
    checkin_days, tick_days, photo_days = range(10), [5, *range(10, 20)], [15, *range(20, 35)]

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        dana = make_patient(clinic, "dana@patients.example", day=40, tz="Pacific/Auckland")
        return dana.id, *add_days(dana.id, checkin_days, tick_days, photo_days)

    dana, start, checkin_ids = in_app(build)
    # Treated at 10:00 in Auckland: the day before in UTC, so a tick dated from the UTC
    # date would land on the wrong day.
    assert start == date(2026, 10, 12)
    doc = staff(app)

    def page(n: int) -> tuple[list[tuple[str, str]], str]:
        html = doc.get(f"/clinic/patients/{dana}?page={n}").get_data(as_text=True)
        pager = re.search(r'<nav class="pager" aria-label="Diary pages">.*?</nav>', html, re.S)
        return (entries(html) if '<ol class="diary">' in html else []), text_of_html(
            pager.group(0) if pager else ""
        )

    first, first_pager = page(1)
    second, second_pager = page(2)
    assert first_pager == "Older days" and second_pager == "Newer days"
    assert len(first) == 28 and len(second) == 7
    seen = []
    for entry_id, text in first + second:
        day = int(re.match(r"Day (\d+), ", text).group(1))
        on = start + timedelta(days=day)
        assert text.startswith(f"Day {day}, {shown(on)}"), text
        if day in checkin_days:
            assert entry_id == f"day-{checkin_ids[day]}" and "No check-in" not in text
            assert f"Pain {day}/10" in text and "Mark day reviewed" in text
        else:
            assert entry_id == f"date-{on.isoformat()}"
            assert "No check-in this day" in text and "Mark day reviewed" not in text
        assert (f"Tasks ticked: {WALK}" in text) is (day in tick_days), text
        assert ("Tasks ticked: none" in text) is (day not in tick_days), text
        seen.append(day)
    assert seen == list(range(34, -1, -1))  # every day once, newest first

    # Thumbnails: one for each photo day, in that day's entry.
    html = doc.get(f"/clinic/patients/{dana}?page=1").get_data(as_text=True)
    photo_entries = re.findall(r'aria-label="Photos of (\w{3} \d+ \w{3} \d{4})"', html)
    assert photo_entries == [shown(start + timedelta(days=d)) for d in range(34, 19, -1)] + [
        shown(start + timedelta(days=15))
    ]

    # The chart: the latest check-ins up to the page's newest day (page 1: all ten, though
    # its own days hold only days 7-9; page 2: days 0-6).
    def charted(n: int) -> list[str]:
        html = doc.get(f"/clinic/patients/{dana}?page={n}").get_data(as_text=True)
        return re.findall(r"<tr><td>(\d+)</td>", section(html, r"<tbody>.*?</tbody>"))

    assert charted(1) == [str(d) for d in range(10)]
    assert charted(2) == [str(d) for d in range(7)]

    # Past the last page: nothing more, and a way back.
    third, third_pager = page(3)
    assert third == [] and third_pager == "Newer days"
    assert "No older days." in text_of_html(doc.get(f"/clinic/patients/{dana}?page=3").text)


# ------------------------------------------------------------------ chart


def test_a_single_check_in_has_a_visible_bruising_marker(app, client, world):
    """One point is no line: each point gets a marker of its own (as pain's dots do)."""
    login(client, "alice@patients.example")
    submit(client, pain="4", bruising="moderate")
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    chart = section(html, r'<figure class="chart">.*?</figure>')
    # x at the left edge (28); bruising 2 of 3: y = 8 + 132 * (1 - 2/3) = 52.
    assert re.findall(r'<path class="bruise mark" d="M([\d.]+) ([\d.]+)m', chart) == [
        ("28.0", "52.0")
    ]
    assert re.findall(r'<circle class="pain" cx="([\d.]+)" cy="([\d.]+)"', chart) == [
        ("28.0", "87.2")
    ]


def test_every_bruising_point_has_a_marker(app, client, world):
    login(client, "alice@patients.example")
    submit(client, day=1, pain="2", bruising="none")
    submit(client, day=2, pain="3", bruising="severe")
    html = staff(app).get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    chart = section(html, r'<figure class="chart">.*?</figure>')
    marks = re.findall(r'<path class="bruise mark" d="M([\d.]+) ([\d.]+)m', chart)
    line = re.search(r'<polyline class="bruise" points="([^"]*)"', chart).group(1)
    assert [f"{x},{y}" for x, y in marks] == line.split() == ["28.0,140.0", "312.0,8.0"]


# ------------------------------------------------------------------ statements


def test_statements_do_not_grow_with_photos_and_ticks(app, world, in_app):
    """A diary of one day of each kind, and one of 90 days (three pages' worth), cost
    the same statements, on the first page and the last."""

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        few = make_patient(clinic, "few@patients.example", day=100)
        many = make_patient(clinic, "many@patients.example", day=100)
        add_days(few.id, [0], [1], [2])
        add_days(many.id, range(30), range(20, 60), range(50, 90))
        add_days(many.id, ticks=range(40), key="elevate-legs")
        return few.id, many.id

    few, many = in_app(build)
    doc = staff(app)
    for page in (1, 4):
        small = _statements(app, doc, f"/clinic/patients/{few}?page={page}")
        large = _statements(app, doc, f"/clinic/patients/{many}?page={page}")
        _same_count(small, large, f"patient page {page}")
        # 28: two of them lock and move the audit chain's head (app/services/audit.py);
        # five read the outcomes section (issue 19 point 6), whatever the diary's size.
        assert len(large) <= 28, large
    # The long diary really has the days: three full pages and a few more.
    html = doc.get(f"/clinic/patients/{many}?page=4").get_data(as_text=True)
    assert len(entries(html)) == 90 - 3 * 28


# ------------------------------------------------------------------ found in review


def test_a_page_number_beyond_any_diary_is_an_empty_page_not_an_error(app, world):
    doc = staff(app)
    r = doc.get(f"/clinic/patients/{world.patient_a}?page=99999999999999999999")
    assert r.status_code == 200 and "No older days." in text_of_html(r.get_data(as_text=True))
    r = doc.post(
        f"/clinic/patients/{world.patient_a}/photos/review",
        data={"on": "2026-11-20", "page": "99999999999999999999"},
    )
    assert r.status_code == 303 and doc.get(r.headers["Location"]).status_code == 200


def test_the_chart_shows_the_latest_check_ins_even_past_the_pages_days(app, world, in_app):
    """Dana checked in on days 0-2 only, then took photos on days 3-30: page 1's 28
    days hold no check-in, but the chart still shows her three."""

    def build():
        dana = make_patient(db.session.get(Clinic, world.clinic1), "dana@patients.example", day=40)
        add_days(dana.id, checkins=range(3), photos=range(3, 31))
        return dana.id

    dana = in_app(build)
    html = staff(app).get(f"/clinic/patients/{dana}").get_data(as_text=True)
    assert "No check-ins yet." not in text_of_html(html)
    table = section(html, r"<tbody>.*?</tbody>")
    assert [row[0] for row in re.findall(r"<tr><td>(\d+)</td>", table)] == ["0", "1", "2"]


def test_a_tick_stays_with_its_check_in_after_the_treatment_record_is_corrected(
    app, client, world, in_app
):
    """Day 1's check-in and walk tick; then the clinic corrects the treatment time by a
    day. The check-in keeps the date it was sent on, and the tick stays with it."""
    login(client, "alice@patients.example")
    submit(client, day=1)
    assert client.post("/patient/tasks/walks", data={"done": "1", "day": "1"}).status_code < 400
    tid = in_app(lambda: db.session.scalar(sa.select(Treatment.id)))
    doc = staff(app)
    r = doc.post(
        f"/clinic/sessions/{tid}/record",
        data={
            "date": "2026-11-16",
            "time": "10:00",
            "sclerosant": "Polidocanol",
            "form": "liquid",
            "areas": "left calf",
            "checks_done": "y",
        },
    )
    assert r.status_code == 303
    days = entries(doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True))
    assert [entry_id.split("-")[0] for entry_id, _ in days] == ["day"], days
    assert f"Tasks ticked: {WALK}" in days[0][1]
