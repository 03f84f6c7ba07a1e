"""Security checklist F1, F2, F6 and F14: the web server, killed, stopped or raced by
many writers, loses no answer it acknowledged and leaves nothing half-written.

Gunicorn runs for real on loopback against the suite's database (a SQLite file, or
PostgreSQL with TEST_DATABASE_URL), on the real clock, so the patients here are treated
three days before the real "now". Each change of a check-in keeps the earlier answers
in its history, so every acknowledged note must be there afterwards: after every worker
is killed with SIGKILL following each 2xx (F1), with twenty writers on three workers
(F6), and with SIGTERM sent while check-ins are in flight (F14). A photo upload killed
half-way leaves neither a row nor a file (F2). Workers are forked from a preloaded app
(``--preload``) so that restarts take a moment; what is checked (the answer comes only
after the commit) does not depend on it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import CheckIn
from app.models import Clinic
from app.models import Photo
from tests.conftest import PASSWORD
from tests.conftest import make_patient
from tests.services.test_photos import phone_jpeg
from tests.web.test_checkin import form

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "fran@patients.example"
TOKEN = re.compile(r'(?:name="csrf-token" content|name="csrf_token" type="hidden" value)="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(base: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text()}")
        try:
            if requests.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer: {log.read_text()}")


def _workers(master: int) -> list[int]:
    """The worker processes of a gunicorn master (its children), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                found.append(int(entry))
    return found


@contextlib.contextmanager
def _gunicorn(database_url: str, tmp_path: Path, workers: int):
    """Gunicorn on loopback with ``workers`` workers on the suite's database."""
    port, log = _free_port(), tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_VAPID_GENERATE_DEV_KEY": "memory",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--preload"]
    command += ["--graceful-timeout", "20", "--bind", f"127.0.0.1:{port}"]
    command += ["--error-logfile", str(log), "wsgi:app"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _up(base, proc, log)
        yield base, proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    token = TOKEN.search(session.get(f"{base}/login", timeout=10).text).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    signed_in = session.post(f"{base}/login", data=data, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302, signed_in.text
    return session


def _day3_patients(in_app, world, emails: list[str]) -> list[int]:
    def make():
        clinic = db.session.get(Clinic, world.clinic1)
        # The server runs on the real clock, so the treatment is dated from it.
        real_now = datetime.now(UTC)
        return [make_patient(clinic, email, day=3, now=real_now).id for email in emails]

    return in_app(make)


@pytest.fixture
def server(app, database_url, tmp_path, in_app, world):
    """Gunicorn with two workers on the suite's database, and Fran (day 3) signed in."""
    _day3_patients(in_app, world, [EMAIL])
    with _gunicorn(database_url, tmp_path, 2) as (base, proc, log):
        yield base, _sign_in(base, EMAIL), proc, log


def _send(base: str, session: requests.Session, note: str) -> int:
    page = session.get(f"{base}/patient/checkin", timeout=10)
    token = TOKEN.search(page.text).group(1)
    r = session.post(f"{base}/patient/checkin", data=form(note=note, csrf_token=token), timeout=20)
    return r.status_code


def _notes(in_app, patient_id: int | None = None) -> list[str]:
    def read():
        query = sa.select(CheckIn)
        if patient_id is not None:
            query = query.where(CheckIn.patient_id == patient_id)
        row = db.session.scalar(query)
        return [h["answers"]["note"] for h in row.history] + [row.note]

    return in_app(read)


def test_f1_every_acknowledged_check_in_survives_kill_9_of_the_workers(server, in_app):
    """F1: 15 times: send a check-in, wait for the 2xx, SIGKILL every worker, wait for
    the master to start new ones. Every acknowledged note is in the database, in order:
    the 2xx comes only after the commit."""
    base, session, proc, log = server
    acknowledged = []
    for i in range(15):
        note = f"acknowledged-{i}"
        assert _send(base, session, note) == 200
        acknowledged.append(note)
        for pid in _workers(proc.pid):
            os.kill(pid, signal.SIGKILL)
        _up(base, proc, log)
    assert _notes(in_app) == acknowledged


def test_f14_sigterm_lets_the_request_in_flight_finish(server, in_app):
    """F14: SIGTERM to the master while check-ins are being sent: each request that got
    a 2xx is stored, none gets a 5xx, and gunicorn exits by itself within its graceful
    timeout."""
    base, session, proc, log = server
    assert _send(base, session, "before-stop") == 200
    results: list[tuple[int, str]] = []

    def keep_sending():
        for i in range(20):
            try:
                results.append((_send(base, session, f"during-{i}"), f"during-{i}"))
            except requests.RequestException:
                return  # the server has stopped listening: a refused connection

    sender = threading.Thread(target=keep_sending)
    sender.start()
    deadline = time.monotonic() + 30
    while not results and time.monotonic() < deadline:  # sending is under way
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    sender.join(timeout=60)
    assert proc.wait(timeout=30) == 0
    assert results  # some check-ins were really in flight around the signal
    assert all(status == 200 for status, _ in results), results
    stored = _notes(in_app)
    assert stored[0] == "before-stop"
    assert [note for _, note in results] == stored[1:]


def test_f6_three_workers_and_twenty_writers_give_no_error_and_lose_nothing(
    app, database_url, tmp_path, in_app, world
):
    """F6: three gunicorn workers, twenty writers (four devices of each of five patients)
    sending check-ins and ticks for 20 s. No answer is a 5xx or a "database is locked"
    page, and every check-in the server confirmed is kept, exactly once."""
    emails = [f"writer{i}@patients.example" for i in range(5)]
    ids = _day3_patients(in_app, world, emails)
    statuses: list[int] = []
    confirmed: dict[int, list[str]] = {pid: [] for pid in ids}
    failures: list[BaseException] = []
    with _gunicorn(database_url, tmp_path, 3) as (base, _, log):
        devices = []
        for email, pid in zip(emails, ids, strict=True):
            session = _sign_in(base, email)
            token = TOKEN.search(session.get(f"{base}/patient/checkin", timeout=10).text)
            for _ in range(4):
                device = requests.Session()
                device.cookies.update(session.cookies)
                devices.append((device, token.group(1), pid))
        stop = time.monotonic() + 20

        def write(n: int, device: requests.Session, token: str, pid: int) -> None:
            try:
                j = 0
                while time.monotonic() < stop:
                    note = f"device {n} write {j}"
                    r = device.post(
                        f"{base}/patient/checkin",
                        data=form(note=note, csrf_token=token),
                        timeout=30,
                    )
                    statuses.append(r.status_code)
                    assert "locked" not in r.text.lower()
                    if r.status_code == 200:
                        confirmed[pid].append(note)
                    tick = device.post(
                        f"{base}/patient/tasks/walks",
                        data={"done": str(j % 2), "day": "3", "csrf_token": token},
                        allow_redirects=False,
                        timeout=30,
                    )
                    statuses.append(tick.status_code)
                    j += 1
            except BaseException as exc:  # reported below with the others
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(n, *d)) for n, d in enumerate(devices)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    assert not failures, failures
    assert len(statuses) >= 40  # the writers really wrote
    assert set(statuses) <= {200, 303}, sorted(set(statuses))
    for pid, notes in confirmed.items():
        assert sorted(_notes(in_app, pid)) == sorted(notes)


def _disposition(name: str) -> str:
    return f'Content-Disposition: form-data; name="{name}"'


def test_f2_an_upload_killed_half_way_leaves_no_row_and_no_file(
    app, database_url, tmp_path, in_app, world, monkeypatch
):
    """F2: a 5 MB photo sent slowly; every worker is killed (SIGKILL) when half of it has
    arrived. The phone gets no 2xx, and neither a row nor a file (not even a temporary
    one) is left in the photo store; the next upload works."""
    _day3_patients(in_app, world, [EMAIL])
    store = tmp_path / "photos"
    monkeypatch.setenv("FLASK_PHOTO_STORAGE_DIR", str(store))  # for the server started next
    with _gunicorn(database_url, tmp_path, 2) as (base, proc, log):
        session = _sign_in(base, EMAIL)
        page = session.get(f"{base}/patient/photos/new", timeout=10).text
        token = TOKEN.search(page).group(1)
        boundary = "f2-boundary"
        fields = {"csrf_token": token, "side": "left", "region": "calf", "view": "inner"}
        head = (
            b"".join(
                f"--{boundary}\r\n{_disposition(k)}\r\n\r\n{v}\r\n".encode()
                for k, v in fields.items()
            )
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
                'filename="leg.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
        )
        photo = b"\xff\xd8\xff\xe0" + os.urandom(5 * 1024 * 1024)
        tail = f"\r\n--{boundary}--\r\n".encode()
        port = int(base.rsplit(":", 1)[1])
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(
                (
                    "POST /patient/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Cookie: {cookie}\r\nContent-Type: multipart/form-data; "
                    f"boundary={boundary}\r\nContent-Length: "
                    f"{len(head) + len(photo) + len(tail)}\r\n\r\n"
                ).encode()
                + head
            )
            half = len(photo) // 2
            for start in range(0, half, 256 * 1024):  # slowly, in pieces
                conn.sendall(photo[start : start + 256 * 1024])
                time.sleep(0.05)
            for pid in _workers(proc.pid):
                os.kill(pid, signal.SIGKILL)
            answer = b""
            try:
                while chunk := conn.recv(65536):
                    answer += chunk
            except OSError:
                pass
        assert not re.match(rb"HTTP/1\.[01] 2", answer), answer[:200]
        _up(base, proc, log)
        count = in_app(lambda: db.session.scalar(sa.select(sa.func.count(Photo.id))))
        assert count == 0
        left = [p for p in store.rglob("*") if p.is_file()] if store.exists() else []
        assert left == []
        # And the service is whole again: a complete upload is stored.
        r = session.post(
            f"{base}/patient/photos",
            data=fields,
            files={"photo": ("leg.jpg", phone_jpeg((200, 150)), "image/jpeg")},
            allow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 303, r.text[:500]
        assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(Photo.id)))) == 1
