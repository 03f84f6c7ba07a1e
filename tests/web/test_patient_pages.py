"""The patient's Today, Checklist and Plan pages, and ticking things off."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import ChecklistTick
from app.models import TaskTick
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of


def test_today_shows_day_tasks_restrictions_and_help(client, world):
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Day 3 after your treatment" in page
    assert "Wear your stockings in the daytime" in page
    # Treated Tue 17 Nov at 10:00 London: 14-day heat rule covers the whole of day 14.
    assert "Very hot or very cold on your legs until the end of Tue 1 Dec" in page
    assert "Sun on the treated areas until the end of Tue 15 Dec" in page
    assert "Call 999 now if you have" in page
    assert "Call the clinic today if you have" in page
    assert "01632 960 111" in page


def test_today_before_treatment_points_to_checklist(client, world):
    login(client, "bob@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Your treatment is tomorrow 10:00" in page
    # The scan and consultation are the clinic's (issue 14 point 10): not counted, said apart.
    assert "0 of 4 done." in page and "overdue" not in page
    assert "Your clinic will also: Scan the veins of your legs (duplex ultrasound)" in page


def test_task_tick_is_stored_once_and_can_be_undone(client, world, in_app):
    login(client, "alice@patients.example")
    for _ in range(2):  # a double tap posts twice; the desired state is sent, not a toggle
        r = client.post("/patient/tasks/walks", data={"done": "1", "day": "3"})
        assert r.status_code == 303
    ticks = in_app(lambda: [(t.task_key, t.day) for t in db.session.scalars(sa.select(TaskTick))])
    assert ticks == [("walks", 3)]
    assert 'aria-pressed="true"' in client.get("/patient/today").get_data(as_text=True)
    client.post("/patient/tasks/walks", data={"done": "0", "day": "3"})
    assert in_app(count, TaskTick) == 0


def test_task_tick_for_a_day_it_does_not_apply_is_refused_with_a_message(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post(
        "/patient/tasks/stockings-day-night", data={"done": "1", "day": "9"}, follow_redirects=True
    )
    assert r.status_code == 200
    assert "This task does not apply on that day." in text_of(r)
    r = client.post("/patient/tasks/walks", data={"done": "1", "day": "4"}, follow_redirects=True)
    assert "This task does not apply on that day." in text_of(r)  # a future day
    assert in_app(count, TaskTick) == 0


def test_unknown_task_and_bad_form_are_clear_errors_not_500(client, world):
    login(client, "alice@patients.example")
    assert client.post("/patient/tasks/no-such-task", data={"done": "1"}).status_code == 404
    assert client.post("/patient/tasks/walks", data={"done": "maybe"}).status_code == 400
    assert client.post("/patient/tasks/walks", data={"done": "1", "day": "x"}).status_code == 400


def test_checklist_tick_untick_and_progress(client, world, in_app):
    login(client, "bob@patients.example")
    client.post("/patient/checklist/no-lotions", data={"done": "1"})
    client.post("/patient/checklist/no-lotions", data={"done": "1"})
    page = text_of(client.get("/patient/checklist"))
    assert "1 of 4 done" in page
    assert in_app(count, ChecklistTick) == 1
    client.post("/patient/checklist/no-lotions", data={"done": "0"})
    assert "0 of 4 done" in text_of(client.get("/patient/checklist"))


def test_checklist_shows_due_times_relative_to_appointment_and_overdue(client, world, clock):
    login(client, "bob@patients.example")
    page = text_of(client.get("/patient/checklist"))
    # Appointment Sat 21 Nov 10:00; "no lotions" starts 24 h before: today 10:00.
    assert "No lotions, creams or oils on your legs" in page
    assert "From today 10:00" in page
    # The scan was due on day -7 (Sat 14 Nov), but it is the clinic's task: never
    # overdue for the patient, shown under "Your clinic will" (issue 14 point 10).
    assert "Overdue" not in page and "overdue" not in page
    assert "Your clinic will Scan the veins of your legs (duplex ultrasound)" in page
    clock.advance(hours=21, minutes=30)  # Sat 09:30: photos were due at 08:00
    login(client, "bob@patients.example")  # sessions end after 30 idle minutes
    page = text_of(client.get("/patient/checklist"))
    assert "1 overdue" in page and "Overdue" in page


def test_plan_lists_milestones_and_next_session_window(client, world):
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/plan"))
    # Treated Tue 17 Nov 10:00 (72 h protocol); now Fri 20 Nov 12:00, so the night-off
    # milestone (Fri 10:00) has come today and the next-session window is ahead.
    assert "You can take your stockings off at night from now" in page
    assert "Next session, if you need one: the usual window opens" in page
    assert page.count("from now") == 1
    assert "From Sat 28 Nov: you no longer need to wear your stockings" in page
    assert "Session 1: treated Tue 17 Nov 2026, 10:00" in page


def test_today_needs_at_most_four_sql_statements(app, client, world, in_app):
    login(client, "alice@patients.example")
    client.get("/patient/today")  # warm: protocol parse cache, session refresh
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = in_app(lambda: db.engine)
    event.listen(engine, "before_cursor_execute", record)
    try:
        r = client.get("/patient/today")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert r.status_code == 200
    # The bound is 4. The page needs 2: the sign-in check, which brings the
    # course's sessions, and the day's ticks with its check-in in one statement.
    assert 1 <= len(statements) <= 2, statements


# Issue 22 point 3: at most three statements on every patient page, the sign-in check
# included. Reminders: its devices, then the email choice, bounce, calendar link and
# newest export in one statement (app/services/notify/settings_page.py).
THREE_OR_FEWER = (
    "/patient/today",
    "/patient/checklist",
    "/patient/plan",
    "/patient/diary",
    "/patient/checkin",
    "/patient/photos",
    "/patient/reminders",
)


@pytest.mark.parametrize("path", THREE_OR_FEWER)
def test_each_patient_page_needs_at_most_three_statements(app, client, world, in_app, path):
    login(client, "alice@patients.example")
    assert client.get(path).status_code == 200  # warm: protocol parse cache, session refresh
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = in_app(lambda: db.engine)
    event.listen(engine, "before_cursor_execute", record)
    try:
        r = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert r.status_code == 200
    assert 1 <= len(statements) <= 3, statements


def test_the_diary_shows_comments_viewers_and_its_first_six_photos_in_order(
    app, client, world, in_app
):
    """The diary reads comments, viewers and photos in one statement: each kind keeps
    its own order and the photo count is the patient's whole count."""
    from tests.web.test_diary_days import add_days

    in_app(lambda: add_days(world.patient_a, photos=range(8)))
    doc = app.test_client()
    login(doc, "doc1@north.example")
    for body in ("First comment.", "Second comment."):
        r = doc.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": body})
        assert r.status_code in (302, 303)
    assert doc.get(f"/clinic/patients/{world.patient_a}").status_code == 200
    login(client, "alice@patients.example")
    html = client.get("/patient/diary").get_data(as_text=True)
    page = text_of(client.get("/patient/diary"))
    assert page.index("Second comment.") < page.index("First comment.")  # newest first
    assert page.count("Doc1 opened your diary, last on ") == 1
    assert "All 8 photos" in page
    # Each with the patient's thumbnail key (sw.js keeps them by URL: issue 22 point 5).
    assert len(re.findall(r'src="/patient/photos/\d+/thumb\?k=[0-9a-f]{24}"', html)) == 6


def test_thumbnail_urls_carry_a_key_of_their_viewer_alone(app, client, world, in_app):
    """The service worker keeps thumbnails by URL (issue 22 point 5), so each patient's
    URLs carry their own key: the same on every page and visit, another patient's is
    different."""
    from tests.web.test_diary_days import add_days

    in_app(lambda: add_days(world.patient_a, photos=range(2)))
    in_app(lambda: add_days(world.patient_c, photos=range(2)))

    def keys(email: str) -> set[str]:
        login(client, email)
        found = set()
        for path in ("/patient/photos", "/patient/diary", "/patient/photos"):
            html = client.get(path).get_data(as_text=True)
            found |= set(re.findall(r'src="/patient/photos/\d+/thumb\?k=([0-9a-f]{24})"', html))
        client.post("/logout")
        return found

    alice, cara = keys("alice@patients.example"), keys("cara@patients.example")
    assert len(alice) == 1 and len(cara) == 1 and alice != cara
    assert keys("alice@patients.example") == alice  # a new sign-in: the same URLs
