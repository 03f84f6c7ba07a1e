"""Making calendar subscription links is limited per patient (issue 20 point 3;
app/patient/calendar.py): over the limit no link is made, and Reminders says how long to
wait, in the patient's language, never a 500. The count lives in the limiter's store, so
with Redis (production) it holds across workers.

The Redis test uses the Redis at 127.0.0.1:6379 (database 9, as tests/web/
test_rate_limits.py) and deletes its keys; it skips when no Redis answers, unless
REQUIRE_REDIS=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa

from app.extensions import db
from app.models import CalendarLink
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_calendar import ALICE
from tests.web.test_calendar import BOB
from tests.web.test_calendar import _anon
from tests.web.test_calendar import _new_link
from tests.web.test_rate_limits import REDIS
from tests.web.test_rate_limits import ROOT
from tests.web.test_rate_limits import _redis

LINK_PAGE = "/patient/calendar/link"
REMINDERS = "/patient/reminders#calendar-title"
WORDS = "You have made several new calendar links in a short time. Please wait an hour"


def _links(in_app, patient_id: int) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(CalendarLink)
            .where(CalendarLink.patient_id == patient_id)
        )
    )


def test_over_the_limit_no_link_is_made_and_reminders_says_so(app, client, world, in_app):
    app.config["SCLERO_CALENDAR_NEW_LINK_LIMIT"] = "3 per hour"
    login(client, ALICE)
    feeds = [_new_link(client)[0] for _ in range(3)]
    before = _links(in_app, world.patient_a)
    over = client.post("/patient/calendar/link")
    assert over.status_code == 303 and over.headers["Location"] == REMINDERS
    assert over.headers["Cache-Control"] == "no-store, private"
    page = client.get("/patient/reminders")
    assert page.status_code == 200
    assert f"{WORDS}, then try again." in text_of(page)
    # Nothing was made or stopped: the last link still works, the one shown is gone.
    assert _links(in_app, world.patient_a) == before
    assert _anon(client).get(feeds[-1]).status_code == 200
    assert client.get(LINK_PAGE).headers["Location"] == REMINDERS
    # The count is Alice's: Bob, on the same connection, makes his link.
    bob = app.test_client()
    login(bob, BOB)
    assert bob.post("/patient/calendar/link").headers["Location"] == LINK_PAGE


def test_the_message_is_in_the_patients_language(app, client, world, in_app):
    def spanish():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()

    in_app(spanish)
    app.config["SCLERO_CALENDAR_NEW_LINK_LIMIT"] = "1 per hour"
    login(client, ALICE)
    assert client.post("/patient/calendar/link").headers["Location"] == LINK_PAGE
    assert client.post("/patient/calendar/link").headers["Location"] == REMINDERS
    shown = text_of(client.get("/patient/reminders"))
    assert "Ha creado varios enlaces de calendario nuevos en poco tiempo." in shown
    assert "Espere una hora y vuelva a intentarlo." in shown


def test_someone_signed_out_or_staff_is_turned_away_as_before(app, client, world):
    # The blueprint's checks come first: "sign in first" and "not found" stay what they
    # were, however often they are asked (nobody but a patient is counted).
    app.config["SCLERO_CALENDAR_NEW_LINK_LIMIT"] = "1 per hour"
    answers = [client.post("/patient/calendar/link") for _ in range(3)]
    assert [r.status_code for r in answers] == [302] * 3
    assert all("/login" in r.headers["Location"] for r in answers)
    login(client, "doc1@north.example")
    assert [client.post("/patient/calendar/link").status_code for _ in range(3)] == [404] * 3


WORKER = """
import json, sys
from app import create_app
from config import TestingConfig

database, storage, count = sys.argv[1:4]
app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database, RATELIMIT_STORAGE_URI=storage)
client = app.test_client()
client.post("/login", data={"email": "alice@patients.example", "password": sys.argv[4]})
print(json.dumps([
    client.post("/patient/calendar/link").headers.get("Location") for _ in range(int(count))
]))
"""


def _other_worker(database_url: str, storage: str, count: int, password: str) -> list[str]:
    """Taps sent by another process (another gunicorn worker): its own app and limiter,
    the same store. :returns: where each was sent."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, database_url, storage, str(count), password],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SCLERO_CALENDAR_NEW_LINK_LIMIT": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_limit_holds_across_two_workers_sharing_redis(database_url, world, in_app):
    from app import create_app
    from config import TestingConfig
    from tests.conftest import PASSWORD

    store = _redis()
    user_id = in_app(lambda: db.session.get(Patient, world.patient_a).user_id)
    pattern = f"*calendar-new-link:user:{user_id}*"

    def forget() -> None:
        for key in store.scan_iter(match=pattern):
            store.delete(key)

    forget()
    try:
        shared = create_app(
            TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI=REDIS
        )
        client = shared.test_client()
        login(client, ALICE)
        first = [client.post("/patient/calendar/link").headers["Location"] for _ in range(6)]
        assert first == [LINK_PAGE] * 6
        # The default limit is 10 an hour: the other worker gets 4 more, then is stopped.
        other = _other_worker(database_url, REDIS, 6, PASSWORD)
        assert other == [LINK_PAGE] * 4 + [REMINDERS] * 2
        assert client.post("/patient/calendar/link").headers["Location"] == REMINDERS
        # memory:// in the other worker: it counts alone, so it would let 10 more through.
        assert _other_worker(database_url, "memory://", 2, PASSWORD) == [LINK_PAGE] * 2
        with shared.app_context():
            db.engine.dispose()
    finally:
        forget()
        store.close()


def test_the_per_patient_limit_holds_from_this_machine_too(app, client, world, in_app):
    """The loopback exemption is for limits counted by address (behind a local proxy
    every client seems to come from 127.0.0.1); a limit counted per patient still
    applies there (an adversarial test made 28 links through 127.0.0.1)."""
    app.config["SCLERO_CALENDAR_NEW_LINK_LIMIT"] = "3 per hour"
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = True
    login(client, ALICE)
    local = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(3):
        made = client.post("/patient/calendar/link", environ_base=local)
        assert made.headers["Location"] == LINK_PAGE
    over = client.post("/patient/calendar/link", environ_base=local)
    assert over.status_code == 303 and over.headers["Location"] == REMINDERS
    assert _links(in_app, world.patient_a) == 1  # each new link replaced the last
