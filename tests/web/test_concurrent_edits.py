"""Several devices of one patient writing at the same time (issue 15 point 3).

Real concurrency: each device is its own test client (own cookies, own app context per
request, own database connection) in its own thread, all released together by a
barrier, against the suite's database (a SQLite file in WAL mode, or PostgreSQL with
TEST_DATABASE_URL). Every answer set the server confirmed (200) must then be either the
current one or in the history, exactly once; ticks never fail; a photo sent with the
same client key from several devices at once is stored once and returned to each.
Each test is bounded: its threads must finish within a minute.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from app.extensions import db
from app.models import CheckIn
from app.models import Photo
from app.models import TaskTick
from tests.conftest import count
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import stored_files
from tests.services.test_photos import upload
from tests.web.test_checkin import form

BOUND_S = 60


def on_devices(app, n: int, work: Callable[[int, object], None]) -> None:
    """Run ``work(device_index, client)`` on ``n`` signed-in devices at once."""
    clients = []
    for _ in range(n):
        client = app.test_client()
        login(client, "alice@patients.example")
        clients.append(client)
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            work(i, clients[i])
        except BaseException as exc:  # reported below, with the device that saw it
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND_S)
    assert not any(t.is_alive() for t in threads), f"devices still busy after {BOUND_S} s"
    assert not failures, failures


def test_concurrent_edits_from_four_devices_lose_no_confirmed_answer(app, world, in_app):
    devices, edits = 4, 15
    confirmed: list[str] = []
    statuses: list[int] = []

    def edit(i: int, client) -> None:
        for j in range(edits):
            note = f"device {i} edit {j}"
            data = form(pain=str((i + j) % 8), note=note, client_key=f"d{i}-e{j}")
            r = client.post("/patient/checkin", data=data)
            statuses.append(r.status_code)
            if r.status_code == 200:
                confirmed.append(note)

    on_devices(app, devices, edit)
    assert statuses == [200] * (devices * edits)
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert in_app(count, CheckIn) == 1
    kept = [checkin.answers["note"]] + [h["answers"]["note"] for h in checkin.history]
    assert Counter(kept) == Counter(confirmed)  # each confirmed set exactly once
    assert len(kept) == devices * edits


def test_the_same_check_in_sent_from_devices_at_once_is_stored_once(app, world, in_app):
    """One offline queue replayed by several tabs at once: one key, one stored version."""
    data = form(pain="4", note="queued", client_key="same-key")
    statuses: list[int] = []
    on_devices(
        app, 4, lambda i, c: statuses.append(c.post("/patient/checkin", data=data).status_code)
    )
    assert statuses == [200] * 4
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert in_app(count, CheckIn) == 1 and checkin.history == []


def test_concurrent_ticks_from_several_devices_never_fail(app, world, in_app):
    statuses: list[int] = []

    def tick(i: int, client) -> None:
        for j in range(10):
            done = "1" if (i + j) % 2 == 0 else "0"
            r = client.post("/patient/tasks/walks", data={"done": done, "day": "3"})
            statuses.append(r.status_code)

    on_devices(app, 4, tick)
    assert statuses == [303] * 40
    assert in_app(count, TaskTick) in (0, 1)


def test_the_same_photo_sent_from_six_devices_at_once_is_stored_once(app, world, in_app):
    jpeg = phone_jpeg((400, 300))
    locations: list[str] = []

    def send(i: int, client) -> None:
        r = upload(client, jpeg, client_key="photo-key")
        assert r.status_code == 303, r.status_code
        locations.append(r.headers["Location"])

    on_devices(app, 6, send)
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    assert in_app(count, Photo) == 1
    assert set(locations) == {f"/patient/photos#photo-{photo_id}"}
    assert len(stored_files(app)) == 2  # the one photo and its thumbnail, nothing else
