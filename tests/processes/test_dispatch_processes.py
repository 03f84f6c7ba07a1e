"""Several dispatcher processes on one database: every notification goes exactly once.
Also `flask notifications worker` as a real process.

Two real `flask notifications send-due` processes race over 1,000 due rows; a third
process claims a batch and is killed before sending, and the survivors send that batch
once its lease has run out (security checklist F7, F8). Runs on the suite's database:
PostgreSQL (FOR UPDATE SKIP LOCKED) in CI, a SQLite file otherwise.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import time as wall_time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.adapters.push import private_key_b64u
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.models import User
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.push_double import PushServiceDouble

ROOT = Path(__file__).resolve().parents[2]
DUE = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ROWS = 1000
PATIENTS = 20


@pytest.fixture
def push_service(app):
    with PushServiceDouble(vapid_public_key_b64u=app.extensions["sclero_push"]["public_key"]) as ps:
        yield ps


# One row per (patient, kind): of several due rows of one kind for one person only the
# newest is sent (a catch-up sends one reminder per kind), so a load test spreads kinds.
KINDS = ("daily", "milestone", "checklist", "next-session", "comment")


def fill(
    push_service, rows: int, *, due: datetime = DUE, slug: str = "load", hanging: int = 0
) -> list[int]:
    """Enough patients for ``rows`` due outbox rows, one device each and no quiet hours
    (the processes may run at any hour of the real clock). The first ``hanging``
    patients' devices never answer in time. Returns the row ids."""
    clinic = make_clinic(slug)
    first = make_patient(clinic, f"p0@{slug}.example", day=1)
    treatment = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == first.id))
    patients = [first]
    # The others as copies of the first, in one commit (a commit each is slow).
    for i in range(1, -(-rows // len(KINDS))):
        user = User(
            email=f"p{i}@{slug}.example",
            name=f"P{i}",
            role=Role.PATIENT,
            clinic_id=clinic.id,
            password_hash=first.user.password_hash,
        )
        patient = Patient(user=user, clinic_id=clinic.id, timezone=first.timezone)
        db.session.add_all([user, patient])
        db.session.add(
            Treatment(
                patient=patient,
                protocol_version_id=treatment.protocol_version_id,
                appointment_at=treatment.appointment_at,
                treated_at=treatment.treated_at,
                status=treatment.status,
                sclerosant=treatment.sclerosant,
                form=treatment.form,
                areas=treatment.areas,
            )
        )
        patients.append(patient)
    db.session.flush()
    treatments = {t.patient_id: t.id for t in db.session.scalars(sa.select(Treatment))}
    for n, p in enumerate(patients):
        p.quiet_start = p.quiet_end = wall_time(0, 0)
        fake = push_service.new_subscription()
        if n < hanging:
            fake.respond = ("hang", {})
        info = fake.info()
        db.session.add(
            PushSubscription(
                patient_id=p.id,
                endpoint=info["endpoint"],
                p256dh=info["keys"]["p256dh"],
                auth=info["keys"]["auth"],
            )
        )
    for i in range(rows):
        p = patients[i % len(patients)]
        db.session.add(
            OutboxMessage(
                patient_id=p.id,
                treatment_id=treatments[p.id],
                key=f"{slug}:{i}",
                kind=KINDS[i // len(patients)],
                link="/patient/today",
                due_at=due,
                available_at=due,
                state=OutboxState.PENDING,
            )
        )
    db.session.commit()
    return list(db.session.scalars(sa.select(OutboxMessage.id)))


def _fill(push_service) -> list[int]:
    return fill(push_service, ROWS)


def _env(app, push_service, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        APP_ENV="development",
        FLASK_APP="wsgi.py",
        FLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        FLASK_VAPID_PRIVATE_KEY=private_key_b64u(app.extensions["sclero_push"]["vapid"]),
        FLASK_PUSH_ALLOW_HTTP=json.dumps([push_service.netloc]),
        # The worker also builds "Download my data" zips (issue 20): the test's folder.
        FLASK_SCLERO_EXPORT_DIR=app.config["SCLERO_EXPORT_DIR"],
        **extra,
    )
    return env


def _flask(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _topics(push_service) -> Counter:
    """Deliveries per outbox row (the payload's opaque row id), keyed like the old
    per-row topics so the assertions read the same."""
    return Counter({f"sc{row}": n for row, n in push_service.per_row().items()})


def test_two_dispatchers_deliver_each_notification_exactly_once(app, in_app, push_service):
    row_ids = in_app(_fill, push_service)
    env = _env(app, push_service)
    procs = [
        _flask(env, "notifications", "send-due", "--now", DUE.isoformat(), "--batch", "50")
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    topics = _topics(push_service)
    assert set(topics) == {f"sc{i}" for i in row_ids}, "some notifications were not delivered"
    assert max(topics.values()) == 1, [t for t, n in topics.items() if n > 1][:10]
    # Both processes did part of the work (a real race, not one doing everything).
    claimed = [int(o.split("claimed ")[1].split(",")[0]) for o in outputs]
    assert sum(claimed) == ROWS and min(claimed) > 0, outputs
    states = in_app(lambda: Counter(db.session.scalars(sa.select(OutboxMessage.state))))
    assert states == {OutboxState.SENT: ROWS}
    # Every payload decrypted with the device keys and named no patient.
    assert len(push_service.delivered()) == ROWS


KILLER = """
import os, signal, sys
from datetime import datetime, timedelta
from app import create_app
from app.services.notify import outbox
app = create_app()
with app.app_context():
    rows = outbox.claim(datetime.fromisoformat(sys.argv[1]), 300, timedelta(seconds=60))
    print(len(rows), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding the claimed rows
"""


def test_a_killed_dispatchers_rows_are_sent_after_its_lease(app, in_app, push_service):
    row_ids = in_app(_fill, push_service)
    env = _env(app, push_service)
    killer = subprocess.run(
        [sys.executable, "-c", KILLER, DUE.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killer.returncode == -9 and killer.stdout.strip() == "300", killer.stderr
    survivor = _flask(env, "notifications", "send-due", "--now", DUE.isoformat())
    out = survivor.communicate(timeout=240)[0]
    assert "claimed 700," in out, out  # the killed process's rows are still leased
    later = DUE.replace(minute=1, second=1).isoformat()  # after the 60 s lease
    survivor = _flask(env, "notifications", "send-due", "--now", later)
    out = survivor.communicate(timeout=240)[0]
    assert "claimed 300," in out, out
    topics = _topics(push_service)
    assert set(topics) == {f"sc{i}" for i in row_ids} and max(topics.values()) == 1
    states = in_app(lambda: Counter(db.session.scalars(sa.select(OutboxMessage.state))))
    assert states == {OutboxState.SENT: ROWS}
    attempts = in_app(lambda: Counter(db.session.scalars(sa.select(OutboxMessage.attempts))))
    assert attempts == {1: 700, 2: 300}


def test_the_worker_sends_what_falls_due_and_stops_cleanly(app, in_app, push_service):
    """`flask notifications worker` as a real process: it sends rows as they fall due
    (on the real clock), each once, and finishes on SIGTERM with a goodbye line."""
    due = datetime.now(UTC) - timedelta(minutes=1)

    in_app(fill, push_service, 5, due=due, slug="worker")
    proc = _flask(_env(app, push_service), "notifications", "worker", "--interval", "0.2")
    try:
        deadline = time.monotonic() + 60
        while len(push_service.delivered()) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more passes: nothing may be sent twice
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "a pass every 0.2 s" in output and output.rstrip().endswith("worker stopped"), output
    per_row = push_service.per_row()
    assert len(per_row) == 5 and set(per_row.values()) == {1}, per_row
    states = in_app(
        lambda: set(
            db.session.scalars(
                sa.select(OutboxMessage.state).where(OutboxMessage.key.like("worker:%"))
            )
        )
    )
    assert states == {OutboxState.SENT}
    assert re.search(r"claimed 5\b", output), output
